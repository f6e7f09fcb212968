"""DRF's JSON parser with the request edge's bounds, for a view reached without
``common.edge.RequestEdgeMiddleware`` (another middleware order, a test calling the
view directly): a body too large or too deep is a 4xx, never a RecursionError."""

from __future__ import annotations

import io

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from common import errors
from common.edge import json_depth


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.REQUEST_MAX_BODY_BYTES
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise errors.RequestBodyTooLarge(details={"max_bytes": limit})
        max_depth = settings.REQUEST_MAX_JSON_DEPTH
        if json_depth(raw) > max_depth:
            raise errors.RequestNestingTooDeep(details={"max_depth": max_depth})
        try:
            return super().parse(io.BytesIO(raw), media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON nested too deeply.") from None
