"""The routing table row by row, and the VADER sentiment labels."""

from __future__ import annotations

import pytest

from leancrm_feedback.domain import routing, sentiment
from leancrm_feedback.domain.routing import RULES, RoutingInput, route, routing_table_markdown


def fb(source: str = "survey", label: str = "neutral", interaction: bool = False,
       topic: str | None = None, text: str = "some words") -> RoutingInput:
    return RoutingInput(source=source, label=label, has_interaction=interaction, topic=topic,
                        text=text)


# One case per row: the input, and the row that must win. Each also shows that the
# rows before it do not claim it.
ROW_CASES: dict[str, RoutingInput] = {
    "idea": fb(source="idea", label="negative", interaction=True, topic="price",
               text="Hate paying this price; add a discount tier"),
    "complaint": fb(source="complaint", label="positive", topic="offers",
                    text="Thanks, but the promo code never worked"),
    "negative_about_interaction": fb(source="tweet", label="negative", interaction=True,
                                     topic="price", text="Your agent quoted a wrong price"),
    "offer_topic": fb(source="review", label="neutral", topic=" Discount ",
                      text="I would buy it at this price"),
    "price_topic": fb(source="tweet", label="positive", topic="upgrade",
                      text="Is there a discount?"),
    "offer_words": fb(source="tweet", label="positive",
                      text="Is the #discount still on if I upgrade?"),
    "price_words": fb(source="review", label="negative", text="Way too expensive for what it is."),
    "negative": fb(source="community_post", label="negative", topic="price",
                   text="The price is a disgrace"),
    "default": fb(source="survey", label="positive", text="Cheaper than the rest and great"),
}


def test_every_row_has_a_case() -> None:
    assert list(ROW_CASES) == [r.name for r in RULES]


@pytest.mark.parametrize("name", list(ROW_CASES))
def test_row_wins_its_case(name: str) -> None:
    assert route(ROW_CASES[name]).name == name


@pytest.mark.parametrize(
    ("case", "team", "reason"),
    [
        (fb(source="idea"), "product", "idea"),
        (fb(source="complaint"), "service", "complaint"),
        (fb(label="negative", interaction=True), "service", "negative_about_interaction"),
        (fb(source="tweet", topic="offers"), "marketing", "offer_feedback"),
        (fb(source="review", topic="pricing"), "sales", "price_or_buying_signal"),
        (fb(source="review", text="Great deals this week"), "marketing", "offer_feedback"),
        (fb(source="tweet", text="How much does the upgrade cost?"), "sales",
         "price_or_buying_signal"),
        (fb(source="survey", label="negative"), "service", "negative_feedback"),
        (fb(source="community_post", label="neutral"), "marketing", "advocacy_and_listening"),
    ],
)
def test_each_row_routes_to_its_team_and_reason(case: RoutingInput, team: str, reason: str) -> None:
    rule = route(case)
    assert (rule.team, rule.reason) == (team, reason)


def test_price_and_offer_rows_only_take_reviews_and_tweets() -> None:
    for source in ("survey", "community_post"):
        assert route(fb(source=source, topic="price", text="the price")).name == "default"
        assert route(fb(source=source, topic="offer", text="the offer")).name == "default"


def test_negative_feedback_without_interaction_is_not_the_interaction_row() -> None:
    assert route(fb(source="survey", label="negative", interaction=False)).name == "negative"


def test_words_are_whole_words_not_substrings() -> None:
    # "priceless" and "offered" are not price / offer words
    assert route(fb(source="review", text="Priceless service, offered gladly")).name == "default"


def test_teams_and_reasons_are_contract_slugs() -> None:
    for rule in RULES:
        assert rule.team in {"product", "marketing", "sales", "service"}
        assert rule.reason.replace("_", "").isalpha() and rule.reason.islower()
        assert 1 <= len(rule.reason) <= 64


def test_the_last_row_matches_everything() -> None:
    assert RULES[-1].matches(fb(source="tweet", label="negative", text=""))


def test_routing_table_renders_as_markdown() -> None:
    md = routing_table_markdown()
    lines = md.splitlines()
    assert lines[0] == "| # | rule | when | team | reason |"
    assert lines[1] == "| --- | --- | --- | --- | --- |"
    for n, rule in enumerate(RULES, 1):
        assert lines[n + 1] == (f"| {n} | `{rule.name}` | {rule.condition} | {rule.team} | "
                                f"`{rule.reason}` |")
    assert "`discount`" in md and "`upgrade`" in md


# --- sentiment ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("I love this product, it is fantastic!", "positive"),
        ("Great support, thank you so much :)", "positive"),
        ("This is the worst service ever. Terrible and rude.", "negative"),
        ("I hate waiting, the app keeps crashing", "negative"),
        ("The parcel arrived on Tuesday.", "neutral"),
        ("The meeting is on Friday at 3 pm.", "neutral"),
    ],
)
def test_sentiment_labels_clear_texts(text: str, label: str) -> None:
    s = sentiment.score(text)
    assert s.label == label
    assert -1.0 <= s.score <= 1.0
    assert s.scorer == "vader-3.3.2"


def test_label_thresholds_are_the_vader_authors() -> None:
    assert sentiment.label_for(0.05) == "positive"
    assert sentiment.label_for(0.0499) == "neutral"
    assert sentiment.label_for(-0.0499) == "neutral"
    assert sentiment.label_for(-0.05) == "negative"


def test_scoring_is_deterministic() -> None:
    text = "Not bad at all, but the price is high"
    assert sentiment.score(text) == sentiment.score(text)


def test_routing_module_documents_its_word_lists() -> None:
    assert routing.OFFER_WORDS.isdisjoint(routing.PRICE_WORDS)
    assert routing.OFFER_TOPICS.isdisjoint(routing.PRICE_TOPICS)
