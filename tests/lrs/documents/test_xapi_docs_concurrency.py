"""Concurrent document writes with ETags (issue 13, B2): exactly one winner per version.

Six clients read the same ETag and each PUT their own content with ``If-Match``; the
answers are one ``204`` and five ``412``; the stored document is the winner's, whole.
Concurrent creations with ``If-None-Match: *``: one ``204``, the rest ``412``. Runs
on both databases (the documents' optimistic concurrency is a conditional UPDATE, so
two writers cannot both match one ETag).
"""

from __future__ import annotations

import asyncio

from tests.lrs.documents.conftest import ACTIVITY, ACTIVITY_PROFILE, STATE, state_params


async def test_if_match_race_has_exactly_one_winner(lrs):
    params = state_params("race")
    assert (await lrs.put(STATE, params, json={"v": 0})).status_code == 204
    etag = (await lrs.get(STATE, params)).headers["etag"]
    results = await asyncio.gather(
        *(
            lrs.put(STATE, params, json={"v": i, "writer": i}, headers={"If-Match": etag})
            for i in range(1, 7)
        )
    )
    statuses = sorted(r.status_code for r in results)
    assert statuses == [204, 412, 412, 412, 412, 412], [r.text for r in results]
    winner = next(i for i, r in enumerate(results, start=1) if r.status_code == 204)
    stored = await lrs.get(STATE, params)
    assert stored.json() == {"v": winner, "writer": winner}
    assert stored.headers["etag"] != etag
    # The losers retry with the new ETag: nothing is lost, one at a time.
    fresh = stored.headers["etag"]
    retry = await lrs.put(STATE, params, json={"v": 99}, headers={"If-Match": fresh})
    assert retry.status_code == 204


async def test_if_none_match_star_race_creates_once(lrs):
    params = {"activityId": ACTIVITY, "profileId": "race-new"}
    results = await asyncio.gather(
        *(
            lrs.put(ACTIVITY_PROFILE, params, json={"creator": i}, headers={"If-None-Match": "*"})
            for i in range(5)
        )
    )
    statuses = sorted(r.status_code for r in results)
    assert statuses == [204, 412, 412, 412, 412], [r.text for r in results]
    winner = next(i for i, r in enumerate(results) if r.status_code == 204)
    assert (await lrs.get(ACTIVITY_PROFILE, params)).json() == {"creator": winner}
