"""Bodies of the tenant's result-code and visit-rule endpoints."""

from typing import Annotated

from pydantic import BaseModel, Field, StrictInt, model_validator

from shared.schemas import RequestModel
from visits.promises import DEFAULT_GRACE_DAYS, MAX_GRACE_DAYS
from visits.result_codes import Category
from visits.schemas import RESULT_CODE_PATTERN, Text

Label = Annotated[Text, Field(min_length=1, max_length=200)]


class ResultCodeIn(RequestModel):
    """A tenant's own result code, under one of the standard categories."""

    code: str = Field(
        pattern=RESULT_CODE_PATTERN,
        description="Lowercase snake_case id, 2 to 60 characters, unique per tenant.",
    )
    category: Category
    label_es: Label
    label_en: Label
    worked: bool = True
    promise: bool = Field(
        default=False,
        description="Records a payment agreement: the result must carry a promise.",
    )
    debtor_gone: bool = Field(
        default=False, description="Says the debtor does not live at the address."
    )
    revisit: bool = False
    billable: bool = True
    agent_paid: bool = True

    @model_validator(mode="after")
    def promise_only_with_contact(self) -> "ResultCodeIn":
        if self.promise and self.category != Category.CONTACT:
            raise ValueError(
                f"promise is true but category is {self.category.value!r}; only "
                "a contact code may record a payment agreement"
            )
        return self


class ResultCodeOut(BaseModel):
    code: str
    category: Category
    label_es: str
    label_en: str
    contact: bool = Field(description="Counts as contact: a debtor or a guarantor.")
    worked: bool
    promise: bool
    debtor_gone: bool
    revisit: bool
    billable: bool
    agent_paid: bool
    evidence: str | None = Field(description="Evidence the code calls for.")
    standard: bool = Field(description="False for the tenant's own codes.")


class CategoryOut(BaseModel):
    category: Category
    label_es: str
    label_en: str
    person_met: list[str] = Field(description="The people met the category fits.")


class ResultCodeCatalogue(BaseModel):
    categories: list[CategoryOut]
    codes: list[ResultCodeOut]


class VisitRulesIn(RequestModel):
    # Strict, so that true or "1" is not taken for a limit of 1.
    max_visits_per_account_week: StrictInt | None = Field(
        ge=1,
        le=100,
        description=(
            "Largest number of visits (first check-ins) to one account in any 7 "
            "days; null for no limit."
        ),
    )
    promise_grace_days: StrictInt = Field(
        default=DEFAULT_GRACE_DAYS,
        ge=0,
        le=MAX_GRACE_DAYS,
        description=(
            "Days after a promise's due date, in the address's local date, "
            "before an unpaid promise counts as broken."
        ),
    )


class VisitRulesOut(VisitRulesIn):
    pass


class VisitRulesPatch(RequestModel):
    """The members a JSON Merge Patch of the visit rules may carry.

    A member left out keeps its value, and null restores the default: no
    weekly limit, 3 grace days. The patched rules are checked as a PUT is.
    """

    max_visits_per_account_week: int | None = Field(default=None, ge=1, le=100)
    promise_grace_days: int | None = Field(default=None, ge=0, le=MAX_GRACE_DAYS)
