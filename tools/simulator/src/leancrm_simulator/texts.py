"""Names, addresses and the words customers use in feedback (plain, seeded choices)."""

from __future__ import annotations

import random
import unicodedata

FIRST_NAMES = (
    "Anna", "Bram", "Chloé", "Daan", "Emma", "Finn", "Greta", "Hugo", "Iris", "Jasper",
    "Julia", "Kees", "Lotte", "Milan", "Noor", "Oscar", "Priya", "Quinten", "Rosa", "Sem",
    "Tess", "Umar", "Vera", "Willem", "Xander", "Yara", "Zoë", "Mohammed", "Sophie", "Lucas",
    "Fatima", "Thomas", "Eva", "Liam", "Sara", "Noah", "Mila", "Levi", "Nina", "Ruben",
)
LAST_NAMES = (
    "de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Janssen",
    "Visser", "Smit", "Meijer", "de Boer", "Mulder", "de Groot", "Bos", "Vos", "Peters",
    "Hendriks", "van Leeuwen", "Dekker", "Brouwer", "de Wit", "Dijkstra", "Smits",
    "de Graaf", "van der Meer", "Kok", "Jacobs", "Haddou", "Yilmaz", "Okafor", "Novak",
)

#: Survey comments by how the contact went.
SURVEY_TEXT = {
    "great": (
        "Quick and friendly, my {reason} question was sorted on the first call. Thank you!",
        "Excellent help, the agent knew exactly what to do about my {reason}.",
        "Very happy: solved in minutes and no need to call again.",
    ),
    "mixed": (
        "Got there in the end, but I was passed to another department about my {reason}.",
        "It was solved, though I had to explain everything twice.",
        "Okay service, the transfer and the second wait were annoying.",
    ),
    "poor": (
        "Terrible. I waited ages and my {reason} problem is still not solved.",
        "Nobody could help me with {reason}. I will have to call again, very frustrating.",
        "I gave my account number to the machine and again to the agent and still no answer.",
    ),
}
COMPLAINT_TEXT = {
    "waiting_time": "I waited far too long in the queue and gave up. This is unacceptable.",
    "repeat_contact": "Third time I contact you about {reason} and it is still not fixed.",
    "billing_error": "My bill is wrong again, I was charged twice. Please correct this now.",
    "staff": "The agent was rude and transferred me without explaining anything.",
    "delivery": "My order is two weeks late and nobody can tell me where it is.",
    "price": "You raised the price without telling me. Very disappointed, thinking of leaving.",
}
#: (positive, negative) per topic; price and offers reach marketing and sales.
TWEET_TEXT = {
    "price": ("@LeanTelco honest pricing, good value for money, happy customer",
              "@LeanTelco way too expensive now, competitors are much cheaper #price"),
    "offers": ("@LeanTelco your new offer is great, just upgraded! #deal",
               "@LeanTelco why do new customers get better offers than loyal ones? Not fair"),
    "app": ("Love the new @LeanTelco app, sorted everything myself in two minutes",
            "@LeanTelco the app keeps crashing when I try to pay my bill"),
    "service": ("Shout-out to @LeanTelco support, fixed my problem on the first call!",
                "Waited 40 minutes on hold with @LeanTelco and then got cut off. Awful service"),
    "network": ("@LeanTelco fast and stable connection since the upgrade, great job",
                "@LeanTelco internet down again in my street, third time this month"),
}
REVIEW_TEXT = {
    "price": ("Fair price for what you get.", "Overpriced compared to other providers."),
    "offers": ("The bundle offer saved me money, recommended.",
               "The offer looked good but the small print is misleading."),
    "product": ("Reliable product, works as promised.", "The product broke after a month."),
    "service": ("Helpful staff and quick answers.", "Customer service is slow and unhelpful."),
}
IDEA_TEXT = {
    "app": "Let me change my delivery address in the app instead of calling.",
    "billing": "Send a short explanation with every bill so I do not need to call about it.",
    "self_service": "A status page for outages would save everyone a phone call.",
    "product": "Offer a family bundle that combines mobile and internet.",
    "community": "Reward community members who answer other customers' questions.",
}
COMMUNITY_TEXT = {
    "app": ("Tip: you can download all your invoices at once from the app.",
            "Does anyone else have the app logging them out all the time?"),
    "technical_issue": ("Restarting the modem twice fixed my connection, try that first.",
                        "My connection drops every evening, anyone found a fix?"),
}


def person(rng: random.Random, index: int) -> tuple[str, str | None, str | None]:
    """(name, email or None, phone or None) for customer number ``index``."""
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    name = f"{first} {last}"
    local = ascii_slug(f"{first}.{last}").replace("_", ".")
    email = f"{local}.{index}@example.com" if rng.random() < 0.9 else None
    phone = f"+316{rng.randrange(10**8):08d}" if rng.random() < 0.8 else None
    return name, email, phone


def ascii_slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch if ch.isalnum() or ch == "." else "_" for ch in plain.lower())
