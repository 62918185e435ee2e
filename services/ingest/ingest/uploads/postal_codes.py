"""Mexican postal-code prefixes by state.

The first two digits of a código postal identify the state. The ranges are
SEPOMEX's assignments as listed in Wikipedia's "Postal codes in Mexico":
Mexico City has 00 to 16 and the other states follow in alphabetical order.
"""

from functools import lru_cache

from ingest.uploads.columns import normalize_header

# State name -> (first prefix, last prefix), both inclusive.
STATE_PREFIXES: dict[str, tuple[int, int]] = {
    "Ciudad de México": (0, 16),
    "Aguascalientes": (20, 20),
    "Baja California": (21, 22),
    "Baja California Sur": (23, 23),
    "Campeche": (24, 24),
    "Coahuila": (25, 27),
    "Colima": (28, 28),
    "Chiapas": (29, 30),
    "Chihuahua": (31, 33),
    "Durango": (34, 35),
    "Guanajuato": (36, 38),
    "Guerrero": (39, 41),
    "Hidalgo": (42, 43),
    "Jalisco": (44, 49),
    "Estado de México": (50, 57),
    "Michoacán": (58, 61),
    "Morelos": (62, 62),
    "Nayarit": (63, 63),
    "Nuevo León": (64, 67),
    "Oaxaca": (68, 71),
    "Puebla": (72, 75),
    "Querétaro": (76, 76),
    "Quintana Roo": (77, 77),
    "San Luis Potosí": (78, 79),
    "Sinaloa": (80, 82),
    "Sonora": (83, 85),
    "Tabasco": (86, 86),
    "Tamaulipas": (87, 89),
    "Tlaxcala": (90, 90),
    "Veracruz": (91, 96),
    "Yucatán": (97, 97),
    "Zacatecas": (98, 99),
}

# Other spellings seen in portfolio files, compared after normalize_header.
_ALIASES = {
    "cdmx": "Ciudad de México",
    "df": "Ciudad de México",
    "d f": "Ciudad de México",
    "distrito federal": "Ciudad de México",
    "mexico d f": "Ciudad de México",
    "ciudad de mexico cdmx": "Ciudad de México",
    "mexico": "Estado de México",
    "edomex": "Estado de México",
    "edo mex": "Estado de México",
    "edo de mexico": "Estado de México",
    "coahuila de zaragoza": "Coahuila",
    "michoacan de ocampo": "Michoacán",
    "veracruz de ignacio de la llave": "Veracruz",
    "veracruz llave": "Veracruz",
    "nl": "Nuevo León",
    "bc": "Baja California",
    "bcs": "Baja California Sur",
    "slp": "San Luis Potosí",
    "qroo": "Quintana Roo",
    "q roo": "Quintana Roo",
}

_BY_NAME = {normalize_header(name): name for name in STATE_PREFIXES} | _ALIASES

# The state of each two-digit prefix, None where no state has it.
_STATE_BY_PREFIX = [
    next(
        (
            state
            for state, (first, last) in STATE_PREFIXES.items()
            if first <= prefix <= last
        ),
        None,
    )
    for prefix in range(100)
]


def state_of_postal_code(postal_code: str) -> str | None:
    """Return the state a five-digit postal code belongs to, or None if unassigned."""
    prefix = int(postal_code[:2])
    return _STATE_BY_PREFIX[prefix] if 0 <= prefix < 100 else None


# A file names its states in a few spellings repeated on every row, so the
# folded spelling is looked up once per spelling.
@lru_cache(maxsize=1024)
def canonical_state(name: str) -> str | None:
    """Return the state's standard name for a spelling, or None when unknown."""
    return _BY_NAME.get(normalize_header(name))


def postal_code_problem(postal_code: str, state: str | None) -> str | None:
    """Explain why a five-digit postal code cannot be right, or return None.

    A code outside every state's range is wrong; a code from another state
    than the row's `state` means one of the two is wrong.
    """
    owner = state_of_postal_code(postal_code)
    if owner is None:
        return (
            f"postal code {postal_code} belongs to no Mexican state "
            f"(no state's codes start with {postal_code[:2]}); check it"
        )
    if not state or state == owner:
        # A standard name is its own canonical spelling.
        return None
    expected = canonical_state(state)
    if expected is not None and expected != owner:
        first, last = STATE_PREFIXES[expected]
        prefixes = f"{first:02d}" if first == last else f"{first:02d} to {last:02d}"
        return (
            f"postal code {postal_code} is in {owner}, but the row says {state}; "
            f"codes in {expected} start with {prefixes}, so check the postal code "
            "or the state"
        )
    return None
