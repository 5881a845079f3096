"""The OpenAPI 3.1 document of the read API (``/api/v1/openapi.json``): every endpoint
with its parameters (repeatable filters as arrays, ``style: form``, ``explode: true``)
and the schema of each answer, JSON and CSV, in the units of contract section 6a.
Built from the catalogue, so a view or filter added there is described here. No I/O.
"""

from __future__ import annotations

from typing import Any, Final

from leancrm_servicekit.auth import PERSONAL_READ, SCOPES, WASTE_READ
from leancrm_waste.domain.demand import BUCKET_LABELS, LEAD_TIME_BUCKETS
from leancrm_waste.domain.wastes import WASTE_TYPES
from leancrm_waste.read.catalogue import (
    AGE_BANDS,
    BREAKDOWN_BY,
    CHANNELS,
    FORMATS,
    PERIODS,
    ROUTING_TEAMS,
    SOURCES,
    VIEWS,
    Filter,
    View,
)
from leancrm_waste.read.distribution import DEMAND_COLUMNS, LEAD_COLUMNS
from leancrm_waste.read.params import DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET, SUMMARY_MAX_DAYS, TIME_RANGE_WORDS
from leancrm_waste.read.querystring import MAX_ERRORS, MAX_PARAMS, MAX_VALUES
from leancrm_waste.read.shaping import FRACTION_DECIMALS, SECONDS_DECIMALS, is_fraction, is_seconds
from leancrm_waste.read.signals import signals_openapi

Schema = dict[str, Any]

#: columns holding whole numbers (counts)
_COUNTS: Final = frozenset({
    "transfers", "cross_channel_transfers", "identifications", "contacts", "resolved",
    "first_contact_resolutions", "failure_demand", "abandoned", "over_processing", "motion",
    "transportation", "defects", "inventory", "occurrences", "open_interactions", "feedback_count",
    "ideas", "idea_votes", "fcr", "transferred"})
_BOOLS: Final = frozenset({"first_contact_resolution", "forgotten"})
_ENUMS: Final[dict[str, tuple[str, ...]]] = {
    "channel": CHANNELS, "waste_type": WASTE_TYPES, "age_band": AGE_BANDS, "source": SOURCES,
    "routed_team": ROUTING_TEAMS, "unit": ("seconds", "count")}

SECONDS_WORDS: Final = f"seconds (rounded to {SECONDS_DECIMALS} decimal)"
FRACTION_WORDS: Final = f"a fraction from 0 to 1, not a percentage (rounded to {FRACTION_DECIMALS} decimals)"


def nullable(schema: Schema) -> Schema:
    t = schema.get("type")
    if not isinstance(t, str):
        return schema
    out = {**schema, "type": [t, "null"]}
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    return out


def column_schema(name: str) -> Schema:
    """The JSON Schema of one column as the API gives it out (null allowed: a view may
    have none)."""
    if name.endswith("_id") or name == "repeat_of":
        s: Schema = {"type": "string", "format": "uuid"}
    elif name.endswith("_at") or name == "bucket_start" or name == "generated_at":
        s = {"type": "string", "format": "date-time", "description": "RFC 3339, UTC (Z)"}
    elif name == "day":
        s = {"type": "string", "format": "date"}
    elif name in _BOOLS:
        s = {"type": "boolean"}
    elif name in _COUNTS:
        s = {"type": "integer", "minimum": 0} if name != "idea_votes" else {"type": "integer"}
    elif name == "avg_sentiment":
        s = {"type": "number", "minimum": -1, "maximum": 1,
             "description": f"from -1 to +1 (rounded to {FRACTION_DECIMALS} decimals)"}
    elif is_fraction(name):
        s = {"type": "number", "minimum": 0, "description": FRACTION_WORDS}
        if name != "occupancy":  # occupancy can pass 1 (busy under another team's sign-in)
            s["maximum"] = 1
    elif is_seconds(name):
        s = {"type": "number", "description": SECONDS_WORDS if name != "quantity" else
             f"in unit: {SECONDS_WORDS} when unit is seconds, else a count"}
    elif name in _ENUMS:
        s = {"type": "string", "enum": list(_ENUMS[name])}
    else:
        s = {"type": "string"}
    return nullable(s)


def row_schema(columns: tuple[str, ...] | list[str]) -> Schema:
    return {"type": "object", "properties": {c: column_schema(c) for c in columns},
            "required": list(columns)}


def _obj(props: dict[str, Schema], description: str = "") -> Schema:
    s: Schema = {"type": "object", "properties": props, "required": list(props)}
    if description:
        s["description"] = description
    return s


_STR_LIST: Final[Schema] = {"type": "array", "items": {"type": "string"}}
_FILTERS: Final[Schema] = {
    "type": "object", "description": "the filters as applied: from/to as RFC 3339 UTC, each other "
                                     "filter as the list of its values or null",
    "additionalProperties": True}


def param(name: str, description: str, schema: Schema | None = None) -> Schema:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema or {"type": "string"}}


def array_param(name: str, description: str, item: Schema) -> Schema:
    """A repeatable filter: ``?channel=phone&channel=chat`` (or comma-separated)."""
    return {**param(name, f"{description}; repeat the parameter (or separate by commas) to match "
                          f"any of up to {MAX_VALUES} values",
                    {"type": "array", "items": item, "maxItems": MAX_VALUES}),
            "style": "form", "explode": True}


def filter_param(f: Filter) -> Schema:
    item: Schema = {"type": "string"}
    if f.choices:
        item = {"type": "string", "enum": list(f.choices)}
    elif f.kind == "uuid":
        item = {"type": "string", "format": "uuid"}
    elif f.kind == "bool":
        return param(f.param, f"column {f.column}: true or false", {"type": "boolean"})
    elif f.kind == "slug":
        item = {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,63}$"}
    words = f"column {f.column}"
    if f.known:
        words += f"; a {f.known} the read model does not know is a 400 naming the known ones"
    return array_param(f.param, words, item)


_TIME: Final = [
    param("from", "RFC 3339 timestamp or date (its 00:00 in the business time zone); rows with "
                  "the time column >= from; " + TIME_RANGE_WORDS, {"type": "string"}),
    param("to", "RFC 3339 timestamp or date (its 00:00 in the business time zone); rows with "
                "the time column < to; " + TIME_RANGE_WORDS, {"type": "string"}),
]
_PERIOD: Final = param("period", "whole days ending today instead of from/to (not both): "
                                 + ", ".join(PERIODS), {"type": "string", "enum": list(PERIODS)})
_FORMAT: Final = param("format", "json (default) or csv (as does 'Accept: text/csv'); CSV has a "
                                 "header row, the JSON's values, and empty cells for null",
                       {"type": "string", "enum": list(FORMATS)})
_SCOPE_FILTERS: Final = [
    array_param("channel", "channels", {"type": "string", "enum": list(CHANNELS)}),
    array_param("reason", "contact reasons (a reason the read model does not know is a 400 naming "
                          "the known ones)", {"type": "string"}),
    array_param("team", "agent teams (a team the read model does not know is a 400 naming the "
                        "known ones)", {"type": "string"}),
]

_ERROR: Final[Schema] = _obj({"error": {"type": "string"}, "message": {"type": "string"}})
_ERRORS: Final[dict[str, Any]] = {
    "400": {"description": f"a bad or unknown parameter or value: {{error: bad_request, message, errors: "
                           f"{{parameter: what}}}}, at most {MAX_ERRORS} errors listed (more_errors counts "
                           f"the rest); at most {MAX_PARAMS} parameters in all and {MAX_VALUES} values "
                           "of one",
            "content": {"application/json": {"schema": {
                **_ERROR, "properties": {**_ERROR["properties"],
                                         "errors": {"type": "object",
                                                    "additionalProperties": {"type": "string"}},
                                         "more_errors": {"type": "integer"}}}}}},
    "401": {"description": "no usable bearer token: {error: unauthorized, reason: no_token_configured | "
                           "missing_token | malformed_header | unknown_token, message, required_scope}, "
                           "with WWW-Authenticate: Bearer",
            "content": {"application/json": {"schema": _ERROR}}},
    "403": {"description": f"the token lacks the scope {WASTE_READ}: {{error: forbidden, reason: "
                           "insufficient_scope, message, required_scope, token, token_scopes}",
            "content": {"application/json": {"schema": _ERROR}}},
    "503": {"description": "the read model cannot be read now (unavailable), the query was cancelled "
                           "(timeout) or every API connection is in use (busy, with Retry-After)",
            "content": {"application/json": {"schema": _ERROR}}},
}
_SECURED: Final = {"security": [{"bearer": [WASTE_READ]}]}


def _csv_content(columns: tuple[str, ...] | list[str]) -> dict[str, Any]:
    return {"text/csv": {"schema": {"type": "string", "description": "header row: " + ",".join(columns)}}}


def view_path(view: View) -> dict[str, Any]:
    params = list(_TIME) if view.time_column else []
    params += [filter_param(f) for f in view.filters]
    params += [
        param("limit", f"rows per page (default {DEFAULT_LIMIT}, at most {MAX_LIMIT})",
              {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT}),
        param("offset", f"rows to skip (at most {MAX_OFFSET:,}: paging is bounded)",
              {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0}),
        param("order", "asc (default) or desc, on " + ", ".join(view.order),
              {"type": "string", "enum": ["asc", "desc"]}),
        _FORMAT,
    ]
    withheld = (f" {', '.join(view.personal)} are null without the scope {PERSONAL_READ}, and the "
                "answer then lists them under withheld (with withheld_because; CSV: header X-Withheld)."
                if view.personal else "")
    body = _obj({"view": {"type": "string", "const": view.name}, "filters": _FILTERS,
                 "rows": {"type": "array", "items": row_schema(view.columns)},
                 "count": {"type": "integer", "minimum": 0}, "more": {"type": "boolean"},
                 "next_offset": {"type": ["integer", "null"]}})
    if view.personal:
        body["properties"]["withheld"] = _STR_LIST
        body["properties"]["withheld_because"] = {"type": "string"}
    return {"get": {
        "summary": f"waste.{view.name}: {view.description}", **_SECURED, "parameters": params,
        "responses": {"200": {"description": "one page of rows in a stable order; CSV: X-More and "
                                             "X-Next-Offset headers." + withheld,
                              "content": {"application/json": {"schema": body},
                                          **_csv_content(view.columns)}},
                      **_ERRORS}}}


_DAILY: Final = row_schema(["day", "contacts", "fcr", "failure_demand", "abandoned", "transferred",
                            "value_added_s", "lead_time_s", "fcr_rate", "failure_demand_rate",
                            "abandonment_rate", "transfer_rate", "flow_efficiency"])
_PARETO_ROW: Final = _obj({
    "waste_type": column_schema("waste_type"), "label": {"type": "string"}, "words": {"type": "string"},
    "occurrences": column_schema("occurrences"), "quantity": column_schema("quantity"),
    "unit": column_schema("unit"), "cost_per_unit_s": column_schema("cost_per_unit_s"),
    "cost_s": column_schema("cost_s"), "share": column_schema("share"),
    "cumulative_share": column_schema("cumulative_share"),
    "not_applicable": {"type": ["string", "null"],
                       "description": "why a filter cannot cut this waste (its figures are then null)"}})
_SUMMARY: Final = _obj({
    "generated_at": column_schema("generated_at"),
    "time_zone": {"type": "string", "description": "the business time zone (IANA) days are cut in"},
    "filters": _FILTERS,
    "applies": {"type": "object", "additionalProperties": _STR_LIST,
                "description": "per part (pareto, daily, capacity, backlog, sentiment): the filters it "
                               "is cut by"},
    "not_applied": {"type": "object", "additionalProperties": {
        "type": "object", "additionalProperties": {"type": "string"}},
        "description": "per part: each active filter it is not cut by, and why (from: the period; "
                       "pareto's overproduction.<filter>: the overproduction bar)"},
    "known": {"type": "object", "additionalProperties": _STR_LIST,
              "description": "the channels, reasons and agent teams the filters take"},
    "target_occupancy": column_schema("target_occupancy"),
    "cost_seconds": {"type": "object", "additionalProperties": {"type": "number"},
                     "description": "seconds one unit of each waste costs"},
    "headline": _obj({"contacts": column_schema("contacts"), "fcr_rate": column_schema("fcr_rate"),
                      "failure_demand_rate": column_schema("failure_demand_rate"),
                      "abandonment_rate": column_schema("abandonment_rate"),
                      "flow_efficiency": column_schema("flow_efficiency"),
                      "occupancy": column_schema("occupancy"),
                      "overproduction_s": column_schema("overproduction_s"),
                      "open_interactions": column_schema("open_interactions")}),
    "pareto": _obj({"rank_by": {"type": "string", "const": "cost_s"},
                    "total_cost_s": {"type": "number", "description": SECONDS_WORDS},
                    "rows": {"type": "array", "items": _PARETO_ROW}}),
    "daily": {"type": "array", "items": _DAILY},
    "capacity": _obj({"teams": _STR_LIST, "rows": {"type": "array", "items": row_schema(
        ["bucket_start", "team", "staffed_s", "busy_s", "idle_s", "occupancy", "overproduction_s"])}}),
    "backlog": _obj({"bands": _STR_LIST, "by_band": {"type": "object", "additionalProperties": {
        "type": "integer"}}, "rows": {"type": "array", "items": row_schema(
            ["channel", "age_band", "open_interactions"])}}),
    "sentiment": _obj({"sources": _STR_LIST, "teams": _STR_LIST, "rows": {
        "type": "array", "items": row_schema(["source", "team", "feedback_count", "avg_sentiment",
                                              "negative_share", "ideas", "idea_votes"])}}),
})


def _breakdown_schema() -> Schema:
    row = row_schema(["waste_type", "occurrences", "quantity", "unit", "cost_s", "share"])
    row["properties"] = {"waste_type": column_schema("waste_type"),
                         "channel | reason | team": {
                             "type": ["string", "null"],
                             "description": "the value of the by column (its name is by's value); "
                                            "null: the ledger row has none"},
                         **{k: v for k, v in row["properties"].items() if k != "waste_type"}}
    total = _obj({"waste_type": column_schema("waste_type"), "unit": column_schema("unit"),
                  "cost_per_unit_s": column_schema("cost_per_unit_s"),
                  "occurrences": column_schema("occurrences"), "quantity": column_schema("quantity"),
                  "cost_s": column_schema("cost_s"),
                  "not_applicable": {"type": ["string", "null"]}})
    return _obj({"by": {"type": "string", "enum": list(BREAKDOWN_BY)}, "filters": _FILTERS,
                 "time_zone": {"type": "string"},
                 "cost_seconds": {"type": "object", "additionalProperties": {"type": "number"}},
                 "wastes": {"type": "array", "items": total},
                 "rows": {"type": "array", "items": row}})


def _signals_schema() -> Schema:
    value = {"type": ["number", "null"], "description": f"{FRACTION_WORDS}, or {SECONDS_WORDS} when "
                                                        "the chart's unit is seconds"}
    point = _obj({"day": column_schema("day"), "value": value, "moving_range": value,
                  "contacts": {"type": "integer"}, "open": {"type": "integer"},
                  "in_baseline": {"type": "boolean"}, "rules": _STR_LIST, "signal": {"type": "boolean"}})
    limits = {"type": ["object", "null"], "properties": {
        k: {"type": ["number", "null"]} for k in ("centre", "lower", "upper", "lower_zone", "upper_zone",
                                                   "average_moving_range")}
        | {"baseline_points": {"type": "integer"}}}
    chart = {"type": "object", "properties": {
        "rate": {"type": "string"}, "label": {"type": "string"},
        "unit": {"type": "string", "enum": ["fraction", "seconds"]},
        "better": {"type": ["string", "null"]}, "target": {"type": ["number", "null"]},
        "limits": limits, "baseline": {"type": ["object", "null"]},
        "points": {"type": "array", "items": point},
        "signals": {"type": "array", "items": {"type": "string"}}},
        "required": ["rate", "label", "unit", "limits"]}
    return {"type": "object", "properties": {
        "from": column_schema("day"), "to": column_schema("day"), "filters": _FILTERS,
        "definitions": {"type": "object"}, "charts": {"type": "array", "items": chart}},
        "required": ["from", "to", "charts"]}


def _with_schema(path: dict[str, Any]) -> dict[str, Any]:
    """The signals' path item (read.signals) with the schema of its answer and its
    repeatable filters declared form/explode, as every other endpoint has them."""
    op = path["get"]
    ok = op["responses"]["200"]
    ok.setdefault("content", {"application/json": {"schema": _signals_schema()}})
    for p in op.get("parameters", []):
        if p.get("schema", {}).get("type") == "array":
            p.setdefault("style", "form")
            p.setdefault("explode", True)
    return path


def distribution_paths() -> dict[str, Any]:
    """``/api/v1/demand`` and ``/api/v1/lead-times`` (contract section 6.2,
    :mod:`leancrm_waste.read.distribution`)."""
    demand = _obj({c: column_schema(c) for c in DEMAND_COLUMNS[2:]})
    histogram = _obj({b: {"type": "integer"} for b in BUCKET_LABELS},
                     "lead times per bucket: " + ", ".join(
                         f"{label} [{lo:g}, {hi:g}) s" for label, lo, hi in LEAD_TIME_BUCKETS))
    leads = _obj({"ended_interactions": {"type": "integer"},
                  **{c: column_schema(c) for c in LEAD_COLUMNS[2:5]}, "histogram": histogram})
    period = {"from": column_schema("started_at"), "to": column_schema("started_at"),
              "time_zone": {"type": "string"}, "filters": _FILTERS, "definitions": {"type": "object"}}
    params = [*_TIME, _PERIOD, *_SCOPE_FILTERS, _FORMAT]
    return {
        "/api/v1/demand": {"get": {
            "summary": "Value and failure demand of the interactions started in the period, per "
                       "channel and reason, per reason, per channel and in all (contract section 6.2; "
                       "default: the last 7 days, today included; at most "
                       f"{SUMMARY_MAX_DAYS} days)", **_SECURED, "parameters": params,
            "responses": {"200": {"description": "total, by_reason and by_channel (most contacts first) "
                                                 "and rows per channel and reason",
                                  "content": {"application/json": {"schema": _obj({
                                      **period, "total": demand,
                                      "by_reason": {"type": "array", "items": demand},
                                      "by_channel": {"type": "array", "items": demand},
                                      "rows": {"type": "array", "items": demand}})},
                                      **_csv_content(list(DEMAND_COLUMNS))}},
                          **_ERRORS}}},
        "/api/v1/lead-times": {"get": {
            "summary": "The lead-time distribution of the interactions ended in the period, per reason "
                       "and overall: p50, p85, p95 (percentile_cont) and a histogram (contract section "
                       "6.2)", **_SECURED, "parameters": params,
            "responses": {"200": {"description": "overall and by_reason (longest p85 first); open: the "
                                                 "contacts of the filters still open (no lead time yet)",
                                  "content": {"application/json": {"schema": _obj({
                                      **period, "buckets": _STR_LIST, "overall": leads,
                                      "by_reason": {"type": "array", "items": leads},
                                      "open": {"type": "integer"}})},
                                      **_csv_content(list(LEAD_COLUMNS))}},
                          **_ERRORS}}},
    }


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the API."""
    paths: dict[str, Any] = {f"/api/v1/{name}": view_path(view) for name, view in VIEWS.items()}
    paths["/api/v1/summary"] = {"get": {
        "summary": "Every figure of the dashboard, read in one snapshot (default: the last 7 days, "
                   f"today included; at most {SUMMARY_MAX_DAYS} days)", **_SECURED,
        "parameters": [*_TIME, _PERIOD, *_SCOPE_FILTERS],
        "responses": {"200": {"description": "the dashboard's figures; each part says which filters "
                                             "cut it (applies) and which not, and why (not_applied)",
                              "content": {"application/json": {"schema": _SUMMARY}}}, **_ERRORS}}}
    paths["/api/v1/breakdown"] = {"get": {
        "summary": "Where to act: each waste by channel, reason or team, with its cost and share",
        **_SECURED,
        "parameters": [
            {**param("by", "what to break the wastes down by",
                     {"type": "string", "enum": list(BREAKDOWN_BY)}), "required": True},
            array_param("waste", "the wastes to break down (default: all seven)",
                        {"type": "string", "enum": list(WASTE_TYPES)}),
            *_TIME, _PERIOD, *_SCOPE_FILTERS, _FORMAT],
        "responses": {"200": {"description": "per waste its total (wastes) and per value of by its rows, "
                                             "largest first; overproduction only by team",
                              "content": {"application/json": {"schema": _breakdown_schema()},
                                          **_csv_content(["waste_type", "<by>", "occurrences", "quantity",
                                                          "unit", "cost_s", "share"])}},
                      **_ERRORS}}}
    paths["/api/v1/signals"] = _with_schema(signals_openapi(_SECURED, _ERRORS))
    paths.update(distribution_paths())  # contract section 6.2
    paths["/api/v1/improvements/effects"] = {"get": {
        "summary": "Every improvement started by the day and not ended before it, judged by its "
                   "target's XmR chart (contract section 6, waste.improvements)", **_SECURED,
        "parameters": [param("day", "the day judged, YYYY-MM-DD (default: today in the business "
                                    "time zone)", {"type": "string", "format": "date"})],
        "responses": {"200": {
            "description": "{day, improvements: [the view's columns, effect (signal | no signal yet | "
                           "no baseline), gain (holding | fading | null), first_signal_on, limits, "
                           "latest, after: [{day, value, signal, rules}]]}",
            "content": {"application/json": {"schema": _obj({
                "day": column_schema("day"),
                "improvements": {"type": "array", "items": {
                    "type": "object", "properties": {
                        "improvement_id": column_schema("improvement_id"),
                        "effect": {"type": ["string", "null"]}, "gain": {"type": ["string", "null"]},
                        "first_signal_on": column_schema("day"), "limits": {"type": ["object", "null"]},
                        "after": {"type": "array", "items": {"type": "object"}}}}}})}}},
            **_ERRORS}}}
    paths["/api/v1/lag"] = {"get": {
        "summary": "Projector consumer lag per partition", **_SECURED,
        "responses": {"200": {"description": "events not yet projected, per topic/partition",
                              "content": {"application/json": {"schema": _obj({
                                  "partitions": {"type": "object",
                                                 "additionalProperties": {"type": "integer"}},
                                  "total": {"type": "integer"}, "consumer": {"type": "boolean"}})}}},
                      "401": _ERRORS["401"], "403": _ERRORS["403"]}}}
    paths["/api/v1"] = {"get": {
        "summary": "The index: the URL of every endpoint (open)",
        "responses": {"200": {"description": "endpoint name -> URL",
                              "content": {"application/json": {"schema": _obj({
                                  "views": _STR_LIST,
                                  "endpoints": {"type": "object", "additionalProperties": {"type": "string"}},
                              })}}}}}}
    paths["/api/v1/openapi.json"] = {"get": {
        "summary": "This document (open)",
        "responses": {"200": {"description": "OpenAPI 3.1",
                              "content": {"application/json": {"schema": {"type": "object"}}}}}}}
    scopes = "; ".join(f"{k}: {v}" for k, v in SCOPES.items())
    return {"openapi": "3.1.0",
            "info": {"title": "Lean CRM waste read model", "version": "1",
                     "description": "Units (docs/contract.md section 6a): durations and costs in "
                                    f"{SECONDS_WORDS}; rates and shares as {FRACTION_WORDS}; counts "
                                    "as integers; timestamps RFC 3339 UTC."},
            "components": {"securitySchemes": {"bearer": {
                "type": "http", "scheme": "bearer",
                "description": f"An operations token ('Authorization: Bearer <token>'). Scopes: {scopes}. "
                               "This document and /api/v1 are open."}}},
            "paths": paths}
