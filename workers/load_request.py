"""The payload that starts a load: validated once, at the door, with messages that name the field.

ETL systems send it as plain JSON (``send_task("mkto_bulk.start_load",
kwargs={...})``), so field names follow Marketo's own parameter names.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from workers.errors import InputError


class ObjectType(StrEnum):
    LEADS = "leads"
    CUSTOM_OBJECTS = "customobjects"
    PROGRAM_MEMBERS = "programmembers"


class FileFormat(StrEnum):
    CSV = "csv"
    TSV = "tsv"
    SSV = "ssv"


class LoadRequest(BaseModel):
    """What to load, where from, and how Marketo should import it."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    source: str = Field(min_length=1)
    object: ObjectType
    format: FileFormat = FileFormat.CSV
    lookup_field: str | None = Field(default=None, alias="lookupField")
    list_id: int | None = Field(default=None, alias="listId", gt=0)
    partition_name: str | None = Field(default=None, alias="partitionName")
    api_name: str | None = Field(default=None, alias="apiName")
    program_id: int | None = Field(default=None, alias="programId", gt=0)
    program_member_status: str | None = Field(default=None, alias="programMemberStatus")
    mapping: dict[str, str | None] = Field(default_factory=dict)
    idempotency_key: str | None = Field(default=None, alias="idempotencyKey", max_length=200)
    callback: str | None = None
    # The ETL's own queue for the callback; our workers consume Celery's default one.
    callback_queue: str | None = Field(default=None, alias="callbackQueue", min_length=1)

    @model_validator(mode="after")
    def _parameters_fit_the_object(self) -> Self:
        source = self.source
        if not (source.startswith("s3://") or source.startswith("/") or source.startswith(".")):
            raise ValueError("source: must be an s3://bucket/key URI (or a local path)")
        lead_only = {"lookupField": self.lookup_field, "listId": self.list_id,
                     "partitionName": self.partition_name}  # fmt: skip
        if self.object is ObjectType.CUSTOM_OBJECTS and not self.api_name:
            raise ValueError("apiName: required when object is customobjects")
        if self.object is ObjectType.PROGRAM_MEMBERS:
            if self.program_id is None:
                raise ValueError("programId: required when object is programmembers")
            if not self.program_member_status:
                raise ValueError("programMemberStatus: required when object is programmembers")
        if self.object is not ObjectType.LEADS:
            for name, value in lead_only.items():
                if value is not None:
                    raise ValueError(f"{name}: only applies when object is leads")
        if self.object is not ObjectType.CUSTOM_OBJECTS and self.api_name:
            raise ValueError("apiName: only applies when object is customobjects")
        if self.object is not ObjectType.PROGRAM_MEMBERS and (
            self.program_id is not None or self.program_member_status
        ):
            raise ValueError("programId: only applies when object is programmembers")
        return self

    def to_json(self) -> dict[str, Any]:
        """The payload as JSON values under its public (Marketo-style) names."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def parse_load_request(payload: dict[str, Any]) -> LoadRequest:
    """Validate a start_load payload; InputError names every bad field."""
    try:
        return LoadRequest.model_validate(payload)
    except ValidationError as error:
        problems = []
        for item in error.errors():
            field = ".".join(str(part) for part in item["loc"])
            message = item["msg"].removeprefix("Value error, ")
            if item["type"] == "missing":
                message = "is required"
            elif item["type"] == "extra_forbidden":
                message = "is not a known field"
            problems.append(f"{field}: {message}" if field else message)
        raise InputError("invalid load request: " + "; ".join(problems)) from None
