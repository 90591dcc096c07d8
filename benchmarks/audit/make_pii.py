"""Writes benchmarks/audit/pii.txt: synthetic sentences dense with names, emails, phones and numbers.

Every person is invented from the lists below; a fixed seed makes the file reproducible.
    python benchmarks/audit/make_pii.py
"""
import random
from pathlib import Path

FIRST = """James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard Susan
Joseph Jessica Thomas Sarah Charles Karen Daniel Nancy Matthew Lisa Anthony Betty Mark Margaret Donald Sandra
Steven Ashley Paul Emily Andrew Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian Melissa George Deborah
Oliver Amelia Harry Sophie""".split()
LAST = """Smith Johnson Williams Brown Jones Miller Davis Wilson Anderson Taylor Thomas Moore Martin Jackson
Thompson White Harris Clark Lewis Robinson Walker Young Allen King Wright Scott Green Baker Adams Nelson Hill
Campbell Mitchell Roberts Carter Phillips Evans Turner Parker Collins Edwards Stewart Morris Murphy Cook Rogers
Morgan Cooper Peterson Reed""".split()
CITIES = """London Manchester Leeds Bristol Glasgow Cardiff Dublin Boston Chicago Denver Seattle Toronto
Sydney Melbourne Auckland Liverpool Oxford Cambridge Brighton York""".split()
STREETS = "Oak Maple Church High Mill Park Station Victoria Green King".split()
DOMAINS = "example.com mailbox.org acme-corp.com university.edu clinic.net".split()
TEMPLATES = [
    "Please send the signed contract to {f} {l} at {email} before Friday.",
    "{f} {l} was admitted on {day} March with a fractured wrist and discharged after {n} days.",
    "Call {f} {l} on {phone} about the overdue invoice of {money} dollars.",
    "{f} {l}, aged {age}, lives at {num} {street} Street in {city}.",
    "The account held by {f} {l} in {city} was overdrawn by {money} pounds on {day} June.",
    "Our new hire {f} {l} starts on Monday; her email is {email}.",
    "{f} {l} reported that the password for the {city} office is on the desk of {f2} {l2}.",
    "Dr {l} prescribed {n} milligrams of the drug to {f} {l2} after the visit in {city}.",
    "Transfer {money} euros from {f} {l}'s savings to account number {acct}.",
    "For the school trip to {city}, contact {f} {l} at {phone} or {email}.",
]


def main() -> None:
    rng = random.Random(20261122)
    lines = set()
    while len(lines) < 300:
        f, l, f2, l2 = rng.choice(FIRST), rng.choice(LAST), rng.choice(FIRST), rng.choice(LAST)
        lines.add(rng.choice(TEMPLATES).format(
            f=f, l=l, f2=f2, l2=l2, email=f"{f.lower()}.{l.lower()}@{rng.choice(DOMAINS)}",
            phone=f"0{rng.randint(20, 79)} {rng.randint(1000, 9999)} {rng.randint(1000, 9999)}",
            day=rng.randint(1, 28), n=rng.randint(2, 40), money=rng.randint(100, 99000), age=rng.randint(18, 90),
            num=rng.randint(1, 250), street=rng.choice(STREETS), city=rng.choice(CITIES),
            acct=rng.randint(10_000_000, 99_999_999)))
    out = Path(__file__).with_name("pii.txt")
    out.write_text("\n".join(sorted(lines, key=lambda s: rng.random())) + "\n", encoding="utf-8")
    print(f"wrote {len(lines)} sentences to {out}")


if __name__ == "__main__":
    main()
