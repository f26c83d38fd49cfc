"""Output schemas. Constrained choices are enums in the schema, so the grammar (or the
server's response format) makes any other value impossible to generate."""

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, create_model


class PlanAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    plan: str = Field(max_length=40)


class Category(StrEnum):
    billing = "billing"
    sign_in = "sign_in"
    sync = "sync"
    storage = "storage"
    other = "other"


class Urgency(StrEnum):
    low = "low"
    normal = "normal"
    high = "high"


class Triage(BaseModel):
    model_config = ConfigDict(extra="forbid")
    category: Category
    urgency: Urgency
    product_line: str = Field(max_length=60)


def choice_model(name: str, field: str, choices: list[str]) -> type[BaseModel]:
    """A model whose one field must be one of `choices` (e.g. the sentence ids a reply may
    cite): the ids are written into the schema, so no other id can be produced."""
    return create_model(
        name, __config__=ConfigDict(extra="forbid"), **{field: (Literal[tuple(choices)], ...)}
    )
