"""Made-up member identities: Chinese names with pinyin e-mail addresses, mobile numbers, birthdays."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

# The most common surnames, roughly weighted by how common they are.
SURNAMES = (
    ("王", "wang", 7),
    ("李", "li", 7),
    ("张", "zhang", 7),
    ("刘", "liu", 5),
    ("陈", "chen", 5),
    ("杨", "yang", 3),
    ("黄", "huang", 2),
    ("赵", "zhao", 2),
    ("吴", "wu", 2),
    ("周", "zhou", 2),
    ("徐", "xu", 1),
    ("孙", "sun", 1),
    ("马", "ma", 1),
    ("朱", "zhu", 1),
    ("胡", "hu", 1),
    ("郭", "guo", 1),
    ("何", "he", 1),
    ("林", "lin", 1),
    ("罗", "luo", 1),
    ("高", "gao", 1),
    ("郑", "zheng", 1),
    ("梁", "liang", 1),
    ("谢", "xie", 1),
    ("宋", "song", 1),
    ("唐", "tang", 1),
    ("韩", "han", 1),
    ("冯", "feng", 1),
    ("邓", "deng", 1),
    ("曹", "cao", 1),
)
GIVEN_SYLLABLES = (
    ("伟", "wei"),
    ("芳", "fang"),
    ("娜", "na"),
    ("敏", "min"),
    ("静", "jing"),
    ("丽", "li"),
    ("强", "qiang"),
    ("磊", "lei"),
    ("军", "jun"),
    ("洋", "yang"),
    ("勇", "yong"),
    ("艳", "yan"),
    ("杰", "jie"),
    ("娟", "juan"),
    ("涛", "tao"),
    ("明", "ming"),
    ("超", "chao"),
    ("霞", "xia"),
    ("平", "ping"),
    ("刚", "gang"),
    ("英", "ying"),
    ("华", "hua"),
    ("文", "wen"),
    ("玉", "yu"),
    ("建", "jian"),
    ("晨", "chen"),
    ("欣", "xin"),
    ("浩", "hao"),
    ("婷", "ting"),
    ("雪", "xue"),
    ("琳", "lin"),
    ("博", "bo"),
    ("子", "zi"),
    ("怡", "yi"),
    ("涵", "han"),
    ("轩", "xuan"),
)
SURNAME_WEIGHTS = tuple(weight for _, _, weight in SURNAMES)
# Reserved for documentation (RFC 2606): demo addresses must never reach a real mailbox.
EMAIL_DOMAINS = ("example.com", "example.net", "example.org")
MOBILE_PREFIXES = ("130", "131", "132", "135", "136", "137", "138", "139", "150", "158", "176", "186", "188", "199")

EMAIL_SHARE = 0.6
PHONE_SHARE = 0.95
BIRTHDAY_SHARE = 0.7
YOUNGEST_AGE, OLDEST_AGE = 18, 70


@dataclass(frozen=True)
class Identity:
    name: str
    email: str
    phone: str
    birthday: date | None


def make_identity(rng: random.Random, today: date) -> Identity:
    surname, surname_pinyin, _ = rng.choices(SURNAMES, weights=SURNAME_WEIGHTS)[0]
    given = rng.sample(GIVEN_SYLLABLES, rng.choice((1, 2)))
    name = surname + "".join(hanzi for hanzi, _ in given)
    given_pinyin = "".join(pinyin for _, pinyin in given)
    email = ""
    if rng.random() < EMAIL_SHARE:
        email = f"{given_pinyin}.{surname_pinyin}{rng.randint(1, 999)}@{rng.choice(EMAIL_DOMAINS)}"
    phone = ""
    if rng.random() < PHONE_SHARE:
        phone = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
    birthday = None
    if rng.random() < BIRTHDAY_SHARE:
        birthday = today - timedelta(days=rng.randint(YOUNGEST_AGE * 365, OLDEST_AGE * 365))
    return Identity(name, email, phone, birthday)
