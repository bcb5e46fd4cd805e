"""The rule-file schema (``storeflow.rules.schema``) and hand-parsed bodies, for OpenAPI.

The sequence classes (``storeflow.rules.model``) say their fields and types; what
their converter's hook functions check (slugs, dot-paths, ranges, list limits) is
stated here as JSON Schema keywords. The keywords are never stricter than the hooks: a sequence the API accepts
is answered back as it was sent, and must match the same schema (tests check both
directions on examples). The frequency cap and dry-run options are parsed by hand
(``storeflow.rules.capping.parse``, ``storeflow.rules.dryrun.parse_options``); their
attrs classes plus these keywords describe those parsers.
"""

from __future__ import annotations

import functools
from typing import Any, get_args

import attrs

from storeflow.rules import capping, dryrun, operators
from storeflow.rules import model as rules
from storeflow.web.apischema import Registry, Schema

_SEGMENT = r"[A-Za-z_][A-Za-z0-9_-]*"
PATH_PATTERN = rf"^{_SEGMENT}(\[\])*(\.{_SEGMENT}(\[\])*)*$"
SCALAR_PATH_PATTERN = rf"^{_SEGMENT}(\.{_SEGMENT})*$"
SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
CLOCK_PATTERN = r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"
_NOT_BLANK = {"minLength": 1, "pattern": r"\S"}
_FILTERS = {"maxItems": rules.FILTER_LIMIT}
_EVENT = {"enum": list(rules.EVENT_NAMES)}
_PATH = {"pattern": PATH_PATTERN}

# The steps' wire keys and the classes each may hold (a delay with ``until`` is a DelayUntil).
STEP_CLASSES: dict[str, tuple[type, ...]] = {
    "delay": (rules.Delay, rules.DelayUntil),
    "email": (rules.Email,),
    "webhook": (rules.Webhook,),
    "tag": (rules.Tag,),
    "branch": (rules.Branch,),
}

RULE_REFINEMENTS: dict[tuple[type, str], Schema] = {
    (rules.Sequence, "id"): {"pattern": SLUG_PATTERN},
    (rules.Sequence, "name"): _NOT_BLANK,
    (rules.Sequence, "priority"): {"minimum": 0, "maximum": 100},
    (rules.Sequence, "steps"): {"minItems": 1},
    (rules.Trigger, "event"): _EVENT,
    (rules.Trigger, "filters"): _FILTERS,
    (rules.Trigger, "subscriber_filters"): _FILTERS,
    (rules.Filter, "path"): _PATH,
    (rules.Filter, "value"): {
        "description": "absent for exists / not_exists; a list of 1 to "
        f"{operators.ONE_OF_LIMIT} values for one_of; a number for greater_than / "
        "less_than; else a string, number or boolean"
    },
    (rules.Enrollment, "field_path"): {"pattern": SCALAR_PATH_PATTERN},
    (rules.MatchRule, "entry_path"): _PATH,
    (rules.MatchRule, "event_path"): _PATH,
    (rules.EventReceived, "event"): _EVENT,
    (rules.EventReceived, "filters"): _FILTERS,
    (rules.EventReceived, "match"): _FILTERS,
    (rules.EventReceived, "entry_filters"): _FILTERS,
    (rules.HasTag, "tag"): _NOT_BLANK,
    (rules.FieldChanged, "field"): {"pattern": rf"^subscriber(\[\])*(\.{_SEGMENT}(\[\])*)+$"},
    **{(rules.Delay, unit): {"minimum": 0} for unit in ("days", "hours", "minutes", "seconds")},
    (rules.Window, "weekdays"): {"minItems": 1, "uniqueItems": True},
    (rules.Window, "start"): {"pattern": CLOCK_PATTERN},
    (rules.Window, "end"): {"pattern": CLOCK_PATTERN, "description": "after start"},
    (rules.Window, "timezone"): {"description": "an IANA name such as Europe/Paris"},
    (rules.Email, "subject"): {"description": "a sandboxed Jinja template"},
    (rules.Email, "body"): {"description": "the text part: a sandboxed Jinja template"},
    (rules.Email, "html"): {
        "description": "an HTML part too, sent as multipart/alternative after the text part "
        "(body): a sandboxed Jinja template whose values are HTML-escaped"
    },
    (rules.Email, "from_"): {
        **_NOT_BLANK,
        "description": "one sender address, optionally with a display name "
        "(Shop <shop@example.com>), never a list or a line break; default "
        "STOREFLOW_MAIL_FROM",
    },
    # Unanchored and case-blind: the check (urllib's urlsplit) is as lenient.
    (rules.Webhook, "url"): {"pattern": "[Hh][Tt][Tt][Pp][Ss]?://", "description": "http(s) URL"},
    (rules.Tag, "add"): {"items": {"type": "string", **_NOT_BLANK}},
    (rules.Tag, "remove"): {"items": {"type": "string", **_NOT_BLANK}},
    (rules.Branch, "if_"): {"minItems": 1, **_FILTERS},
    # Bodies parsed by hand (storeflow.rules.capping.parse, storeflow.rules.dryrun.parse_options).
    (capping.FrequencyCap, "max_messages"): {"minimum": 1, "maximum": 100},
    (capping.FrequencyCap, "window_hours"): {"exclusiveMinimum": 0, "maximum": 24 * 30},
    (dryrun.Options, "days"): {"minimum": 1, "maximum": dryrun.MAX_DAYS},
    (dryrun.Options, "limit"): {"minimum": 0, "maximum": dryrun.MAX_LIMIT},
}


def _steps(registry: Registry) -> Schema:
    variants = []
    for key, classes in STEP_CLASSES.items():
        inner = [registry.schema(cls) for cls in classes]
        variants.append(
            {
                "type": "object",
                "properties": {key: inner[0] if len(inner) == 1 else {"oneOf": inner}},
                "required": [key],
                "additionalProperties": False,
            }
        )
    return {"description": "exactly one of " + ", ".join(STEP_CLASSES), "oneOf": variants}


def _stops(registry: Registry) -> Schema:
    return {"oneOf": [registry.schema(cls) for cls in get_args(rules.StopCondition)]}


def _stop_class(registry: Registry, cls: type) -> Schema:
    # ``type`` has a default in the class but names the variant: it is required on the wire.
    schema = registry.object(cls)
    return {**schema, "required": ["type", *schema.get("required", [])]}


def _rule_name(cls: type) -> str:
    return cls.__name__ if cls is rules.Sequence else "Rule" + cls.__name__


def _closed(cls: type) -> bool:
    # The rule-file classes are those defined in their own module, storeflow.rules.model.
    return cls.__module__ == rules.__name__ or cls in (capping.FrequencyCap, dryrun.Options)


def registry() -> Registry:
    """A registry for the whole document that describes the rule-file schema as above."""
    named: dict[Any, tuple[str, Any]] = {
        rules.Step: ("RuleStep", _steps),
        rules.StopCondition: ("RuleStopCondition", _stops),
    }
    for cls in get_args(rules.StopCondition):
        named[cls] = (_rule_name(cls), functools.partial(_stop_class, cls=cls))
    rename = {cls: _rule_name(cls) for cls in _rule_classes()}
    rename[dryrun.Options] = "DryRunOptions"
    rename[capping.FrequencyCap] = "FrequencyCap"
    return Registry(named=named, refine=RULE_REFINEMENTS, closed=_closed, rename=rename)


def _rule_classes() -> list[type]:
    return [value for value in vars(rules).values() if isinstance(value, type) and attrs.has(value)]


SEQUENCE_EXAMPLE = {
    "id": "coffee-refill",
    "name": "Coffee refill reminder",
    "status": "active",
    "priority": 50,
    "trigger": {
        "event": "ecommerce.replenishment_due",
        "filters": [
            {"path": "product.providerProductId", "operator": "one_of", "value": ["501", "502"]}
        ],
    },
    "enrollment": {"mode": "matching_field", "fieldPath": "product.providerVariantId"},
    "stop": [
        {
            "type": "event_received",
            "event": "ecommerce.order_placed",
            "filters": [],
            "match": [
                {
                    "entryPath": "product.providerProductId",
                    "eventPath": "lineItems[].providerProductId",
                }
            ],
        },
        {"type": "has_tag", "tag": "vip"},
    ],
    "steps": [
        {"delay": {"days": 0, "hours": 0, "minutes": 0, "seconds": 30}},
        {
            "email": {
                "subject": "Time to restock {{ product.title }}",
                "body": "Hi, your coffee should be running low.",
                "html": "<p>Hi, your coffee should be running low.</p>",
                "from": "Coffee Shop <shop@example.com>",
            }
        },
        {"tag": {"add": ["refill-reminded"], "remove": []}},
        {"webhook": {"url": "https://hooks.example.com/refill"}},
    ],
}
