"""``more`` paging never skips or repeats while statements keep arriving."""

from __future__ import annotations

import asyncio

import pytest


@pytest.mark.parametrize("ascending", ["false", "true"])
async def test_new_statements_between_pages_are_neither_skipped_nor_repeated(fxvs, ascending):
    before = (await fxvs.post([fxvs.statement(learner=f"b{i}") for i in range(7)])).json()
    response = await fxvs.get({"limit": "3", "ascending": ascending})
    page = response.json()
    seen = [s["id"] for s in page["statements"]]
    arrived: list[str] = []
    while page["more"]:
        # New statements arrive between every two pages.
        arrived += (await fxvs.post([fxvs.statement(learner="new") for _ in range(2)])).json()
        response = await fxvs.get_url(page["more"])
        assert response.status_code == 200
        page = response.json()
        seen += [s["id"] for s in page["statements"]]
    assert len(seen) == len(set(seen))
    expected = before if ascending == "true" else list(reversed(before))
    assert seen == expected
    # A fresh query sees everything, in order.
    assert set(await fxvs.stored_ids({"limit": "4"})) == set(before) | set(arrived)


async def test_paging_while_concurrent_writers_commit(fxvs):
    """Traversals run while four writers commit; each one is gap-free in commit order.

    Every traversal (first page + ``more`` pages) must be exactly a prefix of the
    final ascending order: a statement that committed late under a lower number
    would show up as a hole.
    """

    async def writer(n: int) -> None:
        for i in range(6):
            batch = [fxvs.statement(learner=f"w{n}-{i}-{j}") for j in range(3)]
            response = await fxvs.post(batch)
            assert response.status_code == 200

    async def traverse(ascending: str) -> list[str]:
        page = (await fxvs.get({"limit": "4", "ascending": ascending})).json()
        seen = [s["id"] for s in page["statements"]]
        while page["more"]:
            await asyncio.sleep(0)
            page = (await fxvs.get_url(page["more"])).json()
            seen += [s["id"] for s in page["statements"]]
        return seen if ascending == "true" else list(reversed(seen))

    async def readers() -> list[list[str]]:
        results = []
        for i in range(8):
            results.append(await traverse("true" if i % 2 else "false"))
            await asyncio.sleep(0.005)
        return results

    *_, traversals = await asyncio.gather(*(writer(n) for n in range(4)), readers())
    final = await fxvs.stored_ids({"limit": "0", "ascending": "true"})
    assert len(final) == 4 * 6 * 3 == len(set(final))
    assert traversals is not None
    for seen in traversals:
        assert len(seen) == len(set(seen))
        assert seen == final[: len(seen)]
