"""Service-ranking baselines for the evaluation harness: NSigma and BARO's root-cause step.

Reference: L. Pham, H. Ha, H. Zhang, "BARO: Robust Root Cause Analysis for Microservices via
Multivariate Bayesian Online Change Point Detection", Proc. ACM Softw. Eng. 1 (FSE 2024). BARO first
finds the anomaly time with multivariate Bayesian online change point detection, then ranks the metrics
with its RobustScorer; NSigma is the same ranking with the mean and standard deviation. Both are
reimplemented here after the authors' code (the `baro` package and RCAEval's `e2e/baro.py`), because the
`rcaeval` package does not install cleanly on this project: its import of `RCAEval.e2e` on Python 3.11
pulls in the torch-based methods, and its extras pin old numpy/pandas/torch and ~400 other packages.

Given the anomaly time T (here the incident's recorded start, as RCAEval passes the injection time):

    normal    = the points of each series before T; anomalous = the points from T to the resolution
    series that are constant in either window are dropped (RCAEval's `preprocess` with a dataset)
    BARO      z = (x - median(normal)) / IQR(normal)     (scikit-learn's RobustScaler, quantiles 25-75)
    NSigma    z = (x - mean(normal)) / std(normal)       (StandardScaler, population std)
              a zero scale is replaced by 1, as scikit-learn does
    score     = max z over the anomalous points (signed, as in the authors' code: a drop scores low)
    services  = ordered by the first appearance of their series in the ranking (best series first)

Everything is vectorised with groupby over the long-format metrics: no loop per series.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import pandas as pd

from connectors.bundle import Bundle

Centre = Literal["mean", "median"]


def _anomaly_time(bundle: Bundle) -> datetime | None:
    """The incident's recorded start, else its earliest milestone."""
    incident = bundle.incident
    if incident.started_at is not None:
        return incident.started_at
    stamps = [t for t in incident.milestones().values() if t is not None]
    return min(stamps) if stamps else None


def _points(bundle: Bundle) -> pd.DataFrame:
    """Finite metric points with a series key, a timestamp and a value."""
    metrics = bundle.frames.get("metrics")
    if metrics is None or metrics.empty:
        return pd.DataFrame(columns=["service", "metric", "ts", "value"])
    frame = pd.DataFrame(
        {
            "service": metrics["service"].astype("string"),
            "metric": metrics["metric"].astype("string"),
            "ts": pd.to_datetime(metrics["ts"], utc=True),
            "value": pd.to_numeric(metrics["value"], errors="coerce").astype("float64"),
        }
    )
    return frame.dropna()


def series_scores(bundle: Bundle, centre: Centre) -> pd.DataFrame:
    """Per series (service, metric): the maximum anomalous z-score, best first."""
    points = _points(bundle)
    start = _anomaly_time(bundle)
    if points.empty or start is None:
        return pd.DataFrame(columns=["service", "metric", "score"])
    end = bundle.incident.resolved_at
    keys = ["service", "metric"]
    normal_rows = points["ts"] < pd.Timestamp(start)
    anomal_rows = points["ts"] >= pd.Timestamp(start)
    if end is not None and end > start:
        anomal_rows &= points["ts"] <= pd.Timestamp(end)
    normal = points.loc[normal_rows].groupby(keys, sort=False)["value"]
    anomal = points.loc[anomal_rows]
    if centre == "median":
        stats = pd.DataFrame(
            {
                "centre": normal.median(),
                "scale": normal.quantile(0.75) - normal.quantile(0.25),
                "spread": normal.max() - normal.min(),
            }
        )
    else:
        stats = pd.DataFrame(
            {"centre": normal.mean(), "scale": normal.std(ddof=0), "spread": normal.max() - normal.min()}
        )
    anomal_values = anomal.groupby(keys, sort=False)["value"]
    anomal_spread = anomal_values.max() - anomal_values.min()
    stats = stats.join(anomal_spread.rename("anomal_spread"), how="inner")
    stats = stats[(stats["spread"] > 0) & (stats["anomal_spread"] > 0)]  # constant in a window: dropped
    stats["scale"] = stats["scale"].where(stats["scale"] > 0, 1.0)
    joined = anomal.join(stats[["centre", "scale"]], on=keys, how="inner")
    joined["z"] = (joined["value"] - joined["centre"]) / joined["scale"]
    scores = joined.groupby(keys, sort=False)["z"].max().rename("score").reset_index()
    return scores.sort_values(["score", "service", "metric"], ascending=[False, True, True], kind="stable")


def _services(scores: pd.DataFrame) -> list[str]:
    """Services in the order their best series appear in the ranking."""
    return [str(s) for s in dict.fromkeys(scores["service"].tolist())]


def nsigma_rank(bundle: Bundle) -> list[str]:
    """Services ranked by NSigma: the largest (x - mean) / std of a series after the incident start."""
    return _services(series_scores(bundle, "mean"))


def baro_rank(bundle: Bundle) -> list[str]:
    """Services ranked by BARO's RobustScorer: the largest (x - median) / IQR after the incident start."""
    return _services(series_scores(bundle, "median"))
