"""The standard catalogue of visit result codes, as data.

A result code has two levels: the contact category (who the agent spoke
to) and the outcome (what happened). Ids are stable English snake_case,
and events and webhooks carry them. Each code carries flags for what it
counts as and what follows from it, so reports and billing read the
flags, never the id.

The categories and the people met they fit:

- `contact`: the debtor, a guarantor or a co-obligor, the only people who
  may be told about the debt. Which of them it was is `person_met`.
- `third_party`: another person. The debt is never disclosed; the agent
  asks only where and when to find the debtor.
- `no_contact`: nobody was met.
- `stopped`: the agent stopped the visit (a minor or an older adult who
  is not the debtor, danger). Fits anyone met, and allows no negotiation.
"""

from dataclasses import dataclass
from enum import StrEnum

from shared.events.payloads import PersonMet


class Category(StrEnum):
    CONTACT = "contact"
    THIRD_PARTY = "third_party"
    NO_CONTACT = "no_contact"
    STOPPED = "stopped"


CATEGORY_PEOPLE: dict[Category, frozenset[PersonMet]] = {
    Category.CONTACT: frozenset({PersonMet.DEBTOR, PersonMet.GUARANTOR}),
    Category.THIRD_PARTY: frozenset({PersonMet.OTHER_PERSON}),
    Category.NO_CONTACT: frozenset({PersonMet.NOBODY}),
    Category.STOPPED: frozenset(PersonMet),
}

CATEGORY_LABELS: dict[Category, tuple[str, str]] = {
    Category.CONTACT: (
        "Contacto con titular, aval u obligado solidario",
        "Debtor, guarantor or co-obligor",
    ),
    Category.THIRD_PARTY: ("Contacto con tercero", "Another person"),
    Category.NO_CONTACT: ("Sin contacto", "No contact"),
    Category.STOPPED: ("Visita suspendida", "Visit stopped"),
}


@dataclass(frozen=True)
class ResultCode:
    """One outcome under a category, with what it counts as and what follows.

    `promise` is True for the codes that record a payment agreement: a
    result with one of them must carry the promise, and a promise needs one.
    `debtor_gone` marks outcomes by which the debtor does not live at the
    address, so `debtor_lives_there: true` contradicts them.
    """

    code: str
    category: Category
    label_es: str
    label_en: str
    worked: bool = True
    promise: bool = False
    debtor_gone: bool = False
    revisit: bool = False
    billable: bool = True
    agent_paid: bool = True
    evidence: str | None = None

    @property
    def contact(self) -> bool:
        return self.category == Category.CONTACT


C, T, N, S = (
    Category.CONTACT,
    Category.THIRD_PARTY,
    Category.NO_CONTACT,
    Category.STOPPED,
)

STANDARD_CODES: tuple[ResultCode, ...] = (
    ResultCode("promise_to_pay", C, "Promesa de pago", "Promise to pay", promise=True),
    ResultCode(
        "payment_plan", C, "Convenio de pagos", "Payment plan agreed", promise=True
    ),
    ResultCode(
        "already_paid",
        C,
        "Ya pagó",
        "Already paid",
        evidence="a photo of the proof of payment",
    ),
    ResultCode("refuses_to_pay", C, "Se niega a pagar", "Refuses to pay"),
    ResultCode(
        "cannot_pay_now", C, "Sin capacidad de pago", "Cannot pay now", revisit=True
    ),
    ResultCode(
        "disputes_debt", C, "Desconoce o disputa el adeudo", "Disputes the debt"
    ),
    ResultCode("claims_fraud", C, "Reclama fraude o robo de identidad", "Claims fraud"),
    ResultCode("asks_for_call", C, "Pide que le llamen", "Asks for a call"),
    ResultCode("will_visit_branch", C, "Acudirá a sucursal", "Will go to the branch"),
    ResultCode(
        "message_left",
        T,
        "Recado con tercero",
        "Message left with another person",
        revisit=True,
    ),
    ResultCode(
        "debtor_not_home", T, "Titular no se encuentra", "Debtor not home", revisit=True
    ),
    ResultCode("moved", T, "Ya no vive aquí", "No longer lives here", debtor_gone=True),
    ResultCode(
        "unknown_at_address",
        T,
        "No lo conocen en el domicilio",
        "Not known at the address",
        debtor_gone=True,
    ),
    ResultCode(
        "deceased",
        T,
        "Titular fallecido",
        "Debtor deceased",
        debtor_gone=True,
        evidence="the death certificate's details or who reported it",
    ),
    ResultCode(
        "third_party_refuses",
        T,
        "Tercero no da información",
        "The other person gives no information",
        revisit=True,
    ),
    ResultCode("not_home", N, "Nadie en casa", "Nobody home", revisit=True),
    ResultCode(
        "address_not_found",
        N,
        "Domicilio no existe",
        "Address does not exist",
        debtor_gone=True,
        evidence="photos of the street and the nearest numbers",
    ),
    ResultCode(
        "vacant",
        N,
        "Casa deshabitada",
        "Vacant",
        debtor_gone=True,
        evidence="a photo of the facade",
    ),
    ResultCode(
        "for_rent_or_sale",
        N,
        "En renta o venta",
        "For rent or sale",
        debtor_gone=True,
        evidence="a photo of the sign",
    ),
    ResultCode(
        "business_closed", N, "Negocio cerrado", "Business closed", revisit=True
    ),
    ResultCode(
        "gated_access",
        N,
        "Acceso restringido",
        "Gated access, no entry",
        worked=False,
        revisit=True,
    ),
    ResultCode(
        "unsafe_area",
        S,
        "Zona insegura, sin acceso",
        "Unsafe to visit",
        worked=False,
        billable=False,
    ),
    ResultCode(
        "agent_threatened",
        S,
        "Gestor amenazado",
        "Agent threatened",
        worked=False,
        billable=False,
    ),
    ResultCode(
        "minor_or_older_adult",
        S,
        "Menor o adulto mayor, se suspende",
        "Minor or older adult met, stopped",
        revisit=True,
    ),
)

STANDARD_BY_CODE: dict[str, ResultCode] = {code.code: code for code in STANDARD_CODES}
