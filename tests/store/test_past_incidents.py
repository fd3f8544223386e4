"""The similarity memory built from stored incidents and their analyses."""

from __future__ import annotations

from datetime import timedelta

from postmortem.store import Store
from tests.store.builders import T0, analysis, incident


def test_past_incidents_returns_what_was_saved(store: Store) -> None:
    store.save_analysis(analysis("INC-1"))
    doc = analysis("INC-2")
    doc.incident = incident("INC-2", resolution="Rolled back the pool size change")
    doc.incident.started_at = T0 + timedelta(days=1)
    doc.root_cause.changes = []
    store.save_analysis(doc)
    store.save_incident(incident("INC-3").model_copy(update={"started_at": T0 - timedelta(days=1)}))

    past = store.past_incidents()
    assert [p.id for p in past] == ["INC-2", "INC-1", "INC-3"]  # most recent first
    inc2, inc1, inc3 = past
    assert inc1.title == "Checkout errors (INC-1)" and inc1.summary == "5xx on checkout after a deploy"
    assert inc1.services == ["checkout", "payments"]
    assert inc1.root_cause == "deploy dep-7 on checkout"
    assert inc1.resolution == "A"  # the top action that passed the gate
    assert inc1.templates == ["connection pool exhausted <*>", "timeout calling <*>"]
    assert inc1.signals == ["checkout/http_5xx"]  # the deviating metric series
    assert inc2.root_cause == "service checkout"  # no change implicated: top service
    assert inc2.resolution == "Rolled back the pool size change"
    assert (inc3.root_cause, inc3.resolution, inc3.templates, inc3.signals) == (None, None, [], [])


def test_past_incidents_excludes_and_limits(store: Store) -> None:
    for n in range(4):
        store.save_incident(incident(f"INC-{n}").model_copy(update={"started_at": T0 + timedelta(hours=n)}))
    assert [p.id for p in store.past_incidents(exclude_id="INC-3", limit=2)] == ["INC-2", "INC-1"]
