"""Topic vocabularies and text templates for the synthetic catalogue (plain English words)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    """A latent topic: its genre, brand words for show/book names and keyword phrases."""

    label: str
    genre: str
    brands: tuple[str, ...]
    keywords: tuple[str, ...]


def _t(label: str, genre: str, brands: str, keywords: str) -> Topic:
    return Topic(label, genre, tuple(brands.split(", ")), tuple(keywords.split(", ")))


# fmt: off
BASE_TOPICS: tuple[Topic, ...] = (
    _t("space", "Science", "Deep Space, Cosmos, Orbit, Stargazer",
       "black holes, telescopes, exoplanets, rockets, the moon, dark matter, mars missions, galaxies, "
       "astronauts, the big bang, comets, space stations"),
    _t("true crime", "True Crime", "Cold Case, Crime Scene, Evidence, Verdict",
       "unsolved murders, detectives, forensic science, courtrooms, serial killers, missing persons, heists, "
       "confessions, trials, cold cases, witnesses, fraud"),
    _t("history", "History", "History, Empire, Chronicle, Past Times",
       "ancient rome, world war two, medieval castles, the cold war, pharaohs, revolutions, vikings, "
       "explorers, the renaissance, dynasties, battles, archaeology"),
    _t("personal finance", "Business", "Money, Wealth, Market, Budget",
       "investing, index funds, retirement, stock markets, budgeting, mortgages, crypto, taxes, saving, "
       "inflation, interest rates, side hustles"),
    _t("cooking", "Food", "Kitchen, Recipe, Flavor, Chef",
       "baking bread, pasta, spices, street food, wine pairing, vegan recipes, barbecue, knife skills, "
       "fermentation, desserts, coffee, family dinners"),
    _t("fitness", "Health & Fitness", "Fit, Strength, Wellness, Running",
       "marathon training, weightlifting, yoga, nutrition, sleep, recovery, stretching, cardio, protein, "
       "mobility, injury prevention, habits"),
    _t("technology", "Technology", "Tech, Code, Silicon, Future",
       "artificial intelligence, startups, smartphones, programming, cybersecurity, robots, the cloud, "
       "open source, gadgets, machine learning, data privacy, chips"),
    _t("news", "News", "Daily Brief, Newsroom, Headline, Capitol",
       "elections, parliament, foreign policy, the economy, climate policy, public health, journalism, "
       "diplomacy, campaigns, polls, protests, the supreme court"),
    _t("comedy", "Comedy", "Laugh, Stand-Up, Banter, Giggle",
       "stand-up, sketches, improv, awkward dates, roommates, pranks, sitcoms, impressions, office life, "
       "funny stories, roasts, parody"),
    _t("football", "Sports", "Matchday, Pitch, Locker Room, Final Whistle",
       "football, transfers, the premier league, tactics, goalkeepers, the world cup, coaches, derbies, "
       "penalties, fantasy football, strikers, the champions league"),
    _t("music", "Music", "Vinyl, Soundcheck, Backstage, Mixtape",
       "jazz, guitar legends, hip hop, songwriting, album reviews, record labels, concerts, classical music, "
       "synthesizers, punk rock, music history, producers"),
    _t("psychology", "Science", "Mind, Brain, Behavior, Inner Life",
       "habits, memory, anxiety, motivation, relationships, emotions, decision making, therapy, sleep, "
       "the brain, personality, mindfulness"),
    _t("business", "Business", "Founder, Startup, Boardroom, Venture",
       "entrepreneurs, leadership, venture capital, marketing, negotiation, management, product design, "
       "hiring, sales, brands, strategy, remote work"),
    _t("parenting", "Kids & Family", "Parent, Family, Toddler, Home",
       "toddlers, teenagers, school, bedtime stories, screen time, newborns, homework, family travel, "
       "siblings, tantrums, play, education"),
    _t("nature", "Nature", "Wild, Planet, Forest, Ocean",
       "wildlife, oceans, birds, forests, climate change, whales, insects, national parks, rainforests, "
       "conservation, coral reefs, wolves"),
    _t("philosophy", "Society & Culture", "Thinking, Wisdom, Stoic, Big Questions",
       "stoicism, ethics, free will, consciousness, the meaning of life, plato, existentialism, logic, "
       "virtue, happiness, death, justice"),
    _t("languages", "Education", "Language, Word, Fluent, Phrase",
       "spanish grammar, french vocabulary, pronunciation, idioms, japanese, conversation, verbs, "
       "travel phrases, accents, german, listening practice, etymology"),
    _t("travel", "Travel", "Wanderlust, Passport, Journey, Road Trip",
       "backpacking, islands, city breaks, road trips, hostels, mountains, night trains, local food, "
       "beaches, flights, hidden gems, hiking"),
    _t("gaming", "Leisure", "Game, Pixel, Console, Level Up",
       "video games, consoles, esports, indie games, speedruns, role playing games, board games, "
       "retro games, game design, live streaming, strategy games, multiplayer"),
    _t("film", "TV & Film", "Screen, Cinema, Box Office, Director's Cut",
       "movies, directors, tv series, film reviews, the oscars, screenwriting, horror films, blockbusters, "
       "documentaries, actors, streaming shows, cinematography"),
    _t("science fiction", "Fiction", "Starship, Android, Galactic, Future World",
       "starships, aliens, time travel, androids, dystopias, colonies, first contact, cyborgs, wormholes, "
       "rebellions, artificial minds, distant planets"),
    _t("fantasy", "Fiction", "Dragon, Kingdom, Realm, Sword",
       "dragons, wizards, kingdoms, quests, magic swords, elves, prophecies, dark lords, enchanted forests, "
       "thrones, spells, heroes"),
    _t("romance", "Romance", "Heart, Love, Summer, Promise",
       "love letters, first dates, weddings, second chances, summer flings, heartbreak, secret admirers, "
       "small towns, rivals, soulmates, proposals, reunions"),
    _t("thriller", "Mystery & Thriller", "Shadow, Midnight, Whisper, Cipher",
       "spies, conspiracies, locked rooms, poison, secret agents, blackmail, double agents, stolen diamonds, "
       "codes, manhunts, alibis, dark secrets"),
)

SHOW_TEMPLATES = ("The {b} Hour", "{b} Weekly", "Inside {b}", "The {b} Show", "{b} Talks", "{b} Daily",
                  "The {b} Podcast", "{b} Unpacked")
BOOK_TEMPLATES = ("The {adj} {b}", "A Short History of {K}", "{K}: A Field Guide", "Notes on {K}",
                  "The {b} Files", "{K} and {K2}", "Everything About {K}", "The Book of {K}")
COURSE_TEMPLATES = ("{K}: A Beginner's Course", "Mastering {K}", "{K} in Ten Lessons", "The {b} Masterclass",
                    "An Introduction to {K}", "{K} and {K2}: A Course", "The {b} School of {K}",
                    "Understanding {K}")
ADJECTIVES = ("Last", "Silent", "Hidden", "Long", "Secret", "Bright", "Lost", "Quiet", "Final", "Endless")
CADENCES = ("weekly", "daily", "twice-weekly", "monthly")
EPISODE_PHRASES = ("digs into {k} with expert guests", "answers listener questions about {k}",
                   "tells the story behind {k}", "debates the latest on {k}")
FIRST_NAMES = ("Ada", "Ben", "Chloe", "David", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas", "Kemi",
               "Liam", "Maya", "Nils", "Olivia", "Pablo", "Rosa", "Sam", "Tara", "Yusuf")
LAST_NAMES = ("Andersson", "Baker", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Hughes", "Ito",
              "Jensen", "Khan", "Lopez", "Moreau", "Nakamura", "Okafor", "Patel", "Quinn", "Rossi")
#: (code, share, phrase appended to descriptions); the words stay English in every language.
LANGUAGES = (("en", 0.85, ""), ("es", 0.05, " In Spanish."), ("de", 0.03, " In German."),
             ("fr", 0.03, " In French."), ("pt", 0.02, " In Portuguese."), ("sv", 0.02, " In Swedish."))
COUNTRIES = (("US", 0.30), ("GB", 0.10), ("SE", 0.08), ("DE", 0.08), ("BR", 0.08), ("MX", 0.07),
             ("FR", 0.06), ("ES", 0.05), ("CA", 0.05), ("AU", 0.04), ("IN", 0.05), ("NL", 0.04))
AGE_BUCKETS = (("18-24", 0.26), ("25-34", 0.30), ("35-44", 0.20), ("45-54", 0.13), ("55+", 0.11))
# fmt: on


def topics(n: int) -> list[Topic]:
    """``n`` topics: the base ones, then blends of two base topics when more are asked for."""
    out = list(BASE_TOPICS[:n])
    base = len(BASE_TOPICS)
    for k in range(base, n):
        a, b = BASE_TOPICS[k % base], BASE_TOPICS[(k * 7 + 3) % base]
        if a is b:
            b = BASE_TOPICS[(k + 1) % base]
        out.append(
            Topic(
                f"{a.label} & {b.label}",
                a.genre,
                a.brands[:2] + b.brands[2:],
                a.keywords[::2] + b.keywords[1::2],
            )
        )
    return out
