"""Fold place names for comparison and recognise Mexico's 32 states.

Names are compared without accents, case or punctuation, so `Ciudad de
México`, `CIUDAD DE MEXICO` and `ciudad-de-mexico` are one key. States are
named in many ways in portfolios (`CDMX`, `D.F.`, `Edo. Méx.`, `N.L.`), so
each state lists the spellings seen, and `state_code` returns its ISO 3166-2
code.
"""

import functools
import re
import unicodedata
from dataclasses import dataclass

_NOT_ALPHANUMERIC = re.compile(r"[^0-9a-z]+")

# Words that lead a place name in one source and not in another: GeoNames
# writes `Ciudad Juarez` where a portfolio writes `Juárez`, and directors
# write `Col. Roma` where GeoNames writes `Roma`.
_LEADING_WORDS = ("ciudad ", "heroica ", "colonia ", "col ", "fraccionamiento ")

_MIN_HEAD_CHARS = 5


def fold(name: str) -> str:
    """Return `name` lowercased, without accents, punctuation or extra spaces."""
    text = unicodedata.normalize("NFKD", name)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    return _NOT_ALPHANUMERIC.sub(" ", text.lower()).strip()


def name_variants(name: str) -> list[str]:
    """Return the folded name, then shorter forms it is also known by.

    A leading `ciudad`, `col`… is dropped, and so is a `de …` tail after a
    single word (`Ecatepec de Morelos` is `Ecatepec` in GeoNames).
    """
    folded = fold(name)
    variants = [folded] if folded else []
    for word in _LEADING_WORDS:
        if folded.startswith(word) and len(folded) > len(word):
            variants.append(folded[len(word) :])
    head, separator, _ = folded.partition(" de ")
    if separator and " " not in head and len(head) >= _MIN_HEAD_CHARS:
        variants.append(head)
    return variants


@dataclass(frozen=True)
class State:
    code: str
    name: str
    geonames_name: str
    spellings: tuple[str, ...] = ()


STATES = (
    State("AGU", "Aguascalientes", "Aguascalientes", ("Ags",)),
    State("BCN", "Baja California", "Baja California", ("B.C.", "BC", "BCN")),
    State("BCS", "Baja California Sur", "Baja California Sur", ("B.C.S.",)),
    State("CAM", "Campeche", "Campeche", ("Camp",)),
    State("CHP", "Chiapas", "Chiapas", ("Chis",)),
    State("CHH", "Chihuahua", "Chihuahua", ("Chih",)),
    State(
        "CMX",
        "Ciudad de México",
        "Mexico City",
        ("CDMX", "Distrito Federal", "D.F.", "México D.F."),
    ),
    State("COA", "Coahuila", "Coahuila", ("Coahuila de Zaragoza", "Coah")),
    State("COL", "Colima", "Colima", ("Col",)),
    State("DUR", "Durango", "Durango", ("Dgo",)),
    State("GUA", "Guanajuato", "Guanajuato", ("Gto",)),
    State("GRO", "Guerrero", "Guerrero", ("Gro",)),
    State("HID", "Hidalgo", "Hidalgo", ("Hgo",)),
    State("JAL", "Jalisco", "Jalisco", ("Jal",)),
    State(
        "MEX",
        "Estado de México",
        "Mexico",
        ("Edo. Méx.", "Edo. de Méx.", "Edomex", "Méx."),
    ),
    State("MIC", "Michoacán", "Michoacan", ("Michoacán de Ocampo", "Mich")),
    State("MOR", "Morelos", "Morelos", ("Mor",)),
    State("NAY", "Nayarit", "Nayarit", ("Nay",)),
    State("NLE", "Nuevo León", "Nuevo Leon", ("N.L.",)),
    State("OAX", "Oaxaca", "Oaxaca", ("Oax",)),
    State("PUE", "Puebla", "Puebla", ("Pue",)),
    State("QUE", "Querétaro", "Queretaro", ("Querétaro de Arteaga", "Qro")),
    State("ROO", "Quintana Roo", "Quintana Roo", ("Q. Roo", "Q.R.")),
    State("SLP", "San Luis Potosí", "San Luis Potosi", ("S.L.P.",)),
    State("SIN", "Sinaloa", "Sinaloa", ("Sin",)),
    State("SON", "Sonora", "Sonora", ("Son",)),
    State("TAB", "Tabasco", "Tabasco", ("Tab",)),
    State("TAM", "Tamaulipas", "Tamaulipas", ("Tamps", "Tams")),
    State("TLA", "Tlaxcala", "Tlaxcala", ("Tlax",)),
    State("VER", "Veracruz", "Veracruz", ("Veracruz de Ignacio de la Llave", "Ver")),
    State("YUC", "Yucatán", "Yucatan", ("Yuc",)),
    State("ZAC", "Zacatecas", "Zacatecas", ("Zac",)),
)
STATE_NAMES = {state.code: state.name for state in STATES}


def _compact(name: str) -> str:
    return fold(name).replace(" ", "")


_STATE_BY_SPELLING = {
    _compact(spelling): state.code
    for state in STATES
    for spelling in (state.code, state.name, state.geonames_name, *state.spellings)
}


# Files repeat a handful of state spellings on every row.
@functools.lru_cache(maxsize=4096)
def state_code(name: str | None) -> str | None:
    """Return the ISO 3166-2 code (without `MX-`) for a state's name, or None."""
    if not name:
        return None
    compact = _compact(name)
    if compact.startswith("estado") and compact != "estadodemexico":
        # `Estado de Jalisco`, `Estado: Jalisco`.
        compact = compact.removeprefix("estado").removeprefix("de")
    return _STATE_BY_SPELLING.get(compact)
