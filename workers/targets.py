"""From a load request to what Marketo imports into and what its header must fit.

Each object type's spec (``workers.objects``) answers; nothing here names a type.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workers.load_request import LoadRequest
from workers.objects import REGISTRY

if TYPE_CHECKING:
    from workers.marketo.describe import Description
    from workers.marketo.imports import ImportTarget
    from workers.split.header_check import TargetFields


def import_target(request: LoadRequest) -> ImportTarget:
    return REGISTRY[request.object].import_target(request)


def target_fields(request: LoadRequest, description: Description) -> TargetFields:
    """The describe as the splitter's header check wants it: field names and key fields."""
    return REGISTRY[request.object].target_fields(request, description)
