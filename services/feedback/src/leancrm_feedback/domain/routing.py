"""Where a piece of feedback goes: ONE ordered rule table, first match wins.

Contract section 4 (feedback): ideas → product; complaints and negative feedback
about an interaction → service; reviews/tweets about price or offers → marketing or
sales; one complaints process for every complaint type. This module is the
documented table; ``routing_table_markdown()`` renders it for the README.

Price and offer mentions are read from the ``topic`` first (an explicit topic wins
over words in the text), then from the words of the text (lower-cased, split on
anything that is not a letter, so ``#Discount`` and ``price?`` count). The split:

- *offers* (offer, discount, promotion, coupon, voucher, deal) → **marketing**: they
  own the campaigns, and feedback on an offer is feedback on a campaign;
- *price and buying* (price, quote, upgrade, buy, purchase, cost, expensive, ...)
  → **sales**: a customer asking what something costs, or wanting to upgrade or
  buy, is a buying signal that sales should pull.

In the text, offer words are checked before price words: they are the more
specific ("is the discount still on if I upgrade?" is about the offer), while
price words are generic and often incidental.

Everything that no specific row claims goes by sentiment: negative → service (an
unhappy customer is a defect to recover from, whether or not we know the contact),
positive or neutral → marketing (advocacy and brand listening: testimonials,
community content, social mentions).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

#: topics that name an offer (marketing) or price / buying (sales)
OFFER_TOPICS = frozenset({"offer", "offers", "discount", "discounts", "promotion", "promotions",
                          "promo"})
PRICE_TOPICS = frozenset({"price", "prices", "pricing", "quote", "upgrade", "buy", "purchase"})

#: words in the text that make a review or tweet about an offer / about price or buying
OFFER_WORDS = frozenset({
    "offer", "offers", "discount", "discounts", "discounted", "promotion", "promotions",
    "promo", "promos", "coupon", "coupons", "voucher", "vouchers", "deal", "deals",
})
PRICE_WORDS = frozenset({
    "price", "prices", "pricing", "priced", "quote", "quotes", "quotation", "upgrade",
    "upgrades", "upgrading", "buy", "buying", "purchase", "purchasing", "cost", "costs",
    "expensive", "cheap", "cheaper", "tariff", "tariffs",
})

#: the sources whose price/offer mentions are routed to marketing or sales
PUBLIC_SOURCES = frozenset({"review", "tweet"})

_WORD = re.compile(r"[a-z]+")


@dataclass(frozen=True, slots=True)
class RoutingInput:
    """What routing looks at: the submitted feedback and its sentiment label."""

    source: str
    label: str  # negative | neutral | positive
    has_interaction: bool
    topic: str | None
    text: str

    @property
    def topic_key(self) -> str | None:
        return self.topic.strip().lower() if self.topic else None

    @property
    def words(self) -> frozenset[str]:
        return frozenset(_WORD.findall(self.text.lower()))


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of the routing table."""

    name: str
    condition: str
    team: str
    reason: str
    matches: Callable[[RoutingInput], bool]


def _public(f: RoutingInput) -> bool:
    return f.source in PUBLIC_SOURCES


RULES: tuple[Rule, ...] = (
    Rule("idea", "source = idea", "product", "idea",
         lambda f: f.source == "idea"),
    Rule("complaint", "source = complaint (every complaint type, one complaints process)",
         "service", "complaint",
         lambda f: f.source == "complaint"),
    Rule("negative_about_interaction", "sentiment negative and interaction_id given",
         "service", "negative_about_interaction",
         lambda f: f.label == "negative" and f.has_interaction),
    Rule("offer_topic", "review or tweet whose topic is an offer topic", "marketing",
         "offer_feedback",
         lambda f: _public(f) and f.topic_key in OFFER_TOPICS),
    Rule("price_topic", "review or tweet whose topic is a price topic", "sales",
         "price_or_buying_signal",
         lambda f: _public(f) and f.topic_key in PRICE_TOPICS),
    Rule("offer_words", "review or tweet whose text has an offer word", "marketing",
         "offer_feedback",
         lambda f: _public(f) and not f.words.isdisjoint(OFFER_WORDS)),
    Rule("price_words", "review or tweet whose text has a price word", "sales",
         "price_or_buying_signal",
         lambda f: _public(f) and not f.words.isdisjoint(PRICE_WORDS)),
    Rule("negative", "any other feedback with negative sentiment", "service",
         "negative_feedback",
         lambda f: f.label == "negative"),
    Rule("default", "anything else (positive or neutral sentiment)", "marketing",
         "advocacy_and_listening",
         lambda f: True),
)


def route(feedback: RoutingInput) -> Rule:
    """The first row that matches (the last row matches everything)."""
    for rule in RULES:
        if rule.matches(feedback):
            return rule
    raise AssertionError("the routing table's last row matches everything")  # pragma: no cover


def routing_table_markdown() -> str:
    """The rule table as Markdown, with the word lists it refers to."""
    lines = [
        "| # | rule | when | team | reason |",
        "| --- | --- | --- | --- | --- |",
    ]
    for n, rule in enumerate(RULES, 1):
        lines.append(f"| {n} | `{rule.name}` | {rule.condition} | {rule.team} | `{rule.reason}` |")
    lines += [
        "",
        "First match wins. Topics are compared lower-cased; text words are the lower-cased",
        "runs of letters.",
        "",
        f"- offer topics: {_words(OFFER_TOPICS)}",
        f"- price topics: {_words(PRICE_TOPICS)}",
        f"- offer words: {_words(OFFER_WORDS)}",
        f"- price words: {_words(PRICE_WORDS)}",
    ]
    return "\n".join(lines) + "\n"


def _words(words: frozenset[str]) -> str:
    return ", ".join(f"`{w}`" for w in sorted(words))
