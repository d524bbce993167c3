"""Realistic statements for the benchmarks: the li-na institutions, Chinese names,
account actors, scores, durations, registrations and context activities."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

INSTITUTIONS = (
    ("https://fxvs.example.edu.cn", "房县职业技术学校"),
    ("https://syu3a.example.edu.cn", "十堰市老年大学"),
    ("https://fxcc.example.edu.cn", "房县社区学院"),
    ("https://mooc1.example.cn", "荆楚慕课"),
    ("https://hbou.example.edu.cn", "湖北开放大学"),
)
VERBS = (
    ("http://adlnet.gov/expapi/verbs/passed", "通过", "passed"),
    ("http://adlnet.gov/expapi/verbs/completed", "完成", "completed"),
    ("http://adlnet.gov/expapi/verbs/attended", "参加", "attended"),
    ("http://adlnet.gov/expapi/verbs/experienced", "学习", "experienced"),
    ("http://adlnet.gov/expapi/verbs/answered", "作答", "answered"),
)
COURSES = (
    "电工职业技能等级证书（中级）",
    "Python程序设计",
    "数据结构",
    "社区急救培训",
    "书法基础",
    "电工基础",
    "计算机应用基础",
    "太极拳入门",
    "智能手机使用",
    "家庭理财",
)
LEARNERS = 2000
REGISTRATIONS = 500


def learner(rng: random.Random) -> tuple[str, str]:
    home_page, _ = INSTITUTIONS[rng.randrange(len(INSTITUTIONS))]
    return home_page, f"2023{rng.randrange(LEARNERS):05d}"


def activity_id(home_page: str, course: int) -> str:
    return f"{home_page}/xapi/activities/course-{course:03d}"


def registration(index: int) -> str:
    return str(uuid.UUID(int=0x5EED0000_0000_4000_8000_000000000000 + index))


def make_statement(
    rng: random.Random, base: datetime, actor_home_page: str | None = None
) -> dict[str, Any]:
    """One statement; the actor's account is on ``actor_home_page`` when given (an
    institution may send statements only about its own accounts)."""
    home_page, school = INSTITUTIONS[rng.randrange(len(INSTITUTIONS))]
    name = f"2023{rng.randrange(LEARNERS):05d}"
    verb_id, zh, en = VERBS[rng.randrange(len(VERBS))]
    course = rng.randrange(len(COURSES) * 3)
    title = COURSES[course % len(COURSES)]
    scaled = round(rng.uniform(0.3, 1.0), 2)
    timestamp = base - timedelta(seconds=rng.randrange(86400 * 365))
    return {
        "actor": {
            "objectType": "Agent",
            "name": f"学员{name[-4:]}",
            "account": {"homePage": actor_home_page or home_page, "name": name},
        },
        "verb": {"id": verb_id, "display": {"zh-CN": zh, "en-US": en}},
        "object": {
            "objectType": "Activity",
            "id": activity_id(home_page, course),
            "definition": {
                "type": "http://adlnet.gov/expapi/activities/course",
                "name": {"zh-CN": title, "en-US": f"Course {course}"},
                "description": {"zh-CN": f"{school}课程：{title}"},
            },
        },
        "result": {
            "score": {"scaled": scaled, "raw": round(scaled * 100, 1), "min": 0, "max": 100},
            "success": scaled >= 0.6,
            "completion": True,
            "duration": f"PT{rng.randrange(1, 40)}H{rng.randrange(60)}M",
        },
        "context": {
            "registration": registration(rng.randrange(REGISTRATIONS)),
            "platform": school,
            "language": "zh-CN",
            "contextActivities": {
                "parent": [{"id": f"{home_page}/xapi/activities/programme-{course % 4}"}],
                "grouping": [{"id": f"{home_page}/xapi/activities/term-2026"}],
            },
            "extensions": {"https://creditbank.example.cn/xapi/ext/hours": rng.randrange(1, 64)},
        },
        "timestamp": timestamp.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
    }


def make_batches(
    count: int, batch: int, seed: int = 7, actor_home_page: str | None = None
) -> list[list[dict[str, Any]]]:
    rng = random.Random(seed)
    base = datetime.now(UTC)
    statements = [make_statement(rng, base, actor_home_page) for _ in range(count)]
    return [statements[i : i + batch] for i in range(0, count, batch)]
