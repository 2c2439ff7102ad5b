"""A made-up fourth object type, exactly as its spec module would be written.

``test_fourth_type`` copies this file into a copy of ``workers/objects/`` as
``orders.py`` and adds its one registry entry, then shows everything else
follows with no other edit. Orders of one catalog (``catalogId``), optionally
in one ``orderCurrency``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from workers.objects.base import CliOption, Example, ObjectSpec, Target, id_field, text_field

if TYPE_CHECKING:
    from workers.load_request import LoadRequest
    from workers.marketo.describe import Describes, Description
    from workers.split.header_check import TargetFields

CATALOG_ID = id_field("catalogId", "catalog_id", required=True)
CURRENCY = text_field("orderCurrency", "order_currency", max_length=3)


class Orders(ObjectSpec["OrderImport"]):
    name = "orders"
    member = "ORDERS"
    fields = (CATALOG_ID, CURRENCY)
    cli_options = (
        CliOption("--catalog-id", CATALOG_ID, "Orders: the catalog."),
        CliOption("--order-currency", CURRENCY, "Orders: the currency code."),
    )

    example = Example({"catalogId": 77}, "orderNo,total\nO1,10\nO2,20\nO3,30\n")

    def import_target(self, request: LoadRequest) -> OrderImport:
        return OrderImport(
            catalog_id=request.required(CATALOG_ID),
            currency=request.option(CURRENCY),
            format=request.format.value,
        )

    def describe(self, marketo: Describes, target: OrderImport) -> Description:
        path = f"/rest/v1/catalogs/{int(target.catalog_id)}/orders/describe.json"
        return marketo.describe_path("order", path)

    def target_fields(self, request: LoadRequest, description: Description) -> TargetFields:
        from workers.split.header_check import TargetFields

        return TargetFields("orders", sorted(description.field_names), ["orderNo"], "dedupe")


@dataclass(frozen=True)
class OrderImport(Target):
    """Orders of catalog ``catalog_id``."""

    object_name = Orders.name
    catalog_id: int
    currency: str | None = None

    def create_path(self) -> str:
        return f"/bulk/v1/catalogs/{int(self.catalog_id)}/orders/import.json"

    def status_path(self, batch_id: int) -> str:
        return f"/bulk/v1/catalogs/orders/import/{int(batch_id)}/status.json"

    def file_path(self, batch_id: int, which: str) -> str:
        return f"/bulk/v1/catalogs/orders/import/{int(batch_id)}/{which}.json"

    def params(self) -> dict[str, str]:
        params = {"format": self.format}
        if self.currency:
            params[CURRENCY.alias] = self.currency
        return params


SPEC = Orders()  # what the registry (workers.objects) takes from this module
