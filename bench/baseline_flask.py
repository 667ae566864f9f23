#!/usr/bin/env python3
"""A minimal, faithful stand-in for the original Flask API (the system
windwatch replaces), for the api benchmark's baseline only.

    baseline_flask.py --db FILE --port N

Serves, like the original (docs: /work/shared/reference/seed-behaviour.md):
  GET  /api/health                  a fresh SQLite connection and a query per request
  GET  /api/current-status          per request: a fresh connection, the newest reading
                                    of each line scored with StandardScaler + IsolationForest
                                    (100 trees, 256 samples, contamination 0.1), and the
                                    10 most recent readings
  GET  /api/sensor-history/<sensor> the newest readings of one sensor (?limit=, default 100)
  POST /api/predict                 the simulator's body, validated and scored
It reads the windwatch database (the same file the windwatch api serves) and
uses the same indexes (ts_ms, (production_line, ts_ms)), so the comparison
measures the serving stack, not a missing index. Unlike the original, predict
does not write a row per request (the benchmark database is shared), which
only makes this baseline faster. The server is Flask's own threaded server,
as the original ran it (app.run).
"""
import argparse
import datetime
import logging
import sqlite3

import numpy as np
from flask import Flask, jsonify, request
from sklearn.ensemble import IsolationForest
from sklearn.preprocessing import StandardScaler

FEATURES = ["temperature", "humidity", "sound_level"]
LINES = {
    "turbine-line-1": {"name": "Blade Production Line",
                       "components": ["Blade", "Resin Infusion", "Curing Oven"]},
    "turbine-line-2": {"name": "Nacelle Assembly Line",
                       "components": ["Nacelle", "Gearbox", "Generator"]},
}


def status_of(score):
    return "normal" if score < 0.3 else ("warning" if score < 0.6 else "anomaly")


def make_app(db_path):
    app = Flask(__name__)
    rng = np.random.default_rng(42)
    train = np.column_stack([rng.normal(25, 1.5, 2000), rng.normal(50, 3, 2000),
                             rng.normal(65, 2, 2000)])
    scaler = StandardScaler().fit(train)
    model = IsolationForest(n_estimators=100, max_samples=256, contamination=0.1,
                            random_state=42).fit(scaler.transform(train))

    def score(values):
        x = scaler.transform(np.array([values], dtype=float))
        return float(-model.score_samples(x)[0])

    def connect():
        conn = sqlite3.connect(db_path)
        conn.row_factory = sqlite3.Row
        return conn

    def now():
        return datetime.datetime.now().isoformat()

    @app.route("/api/health")
    def health():
        conn = connect()
        try:
            conn.execute("SELECT 1 FROM sensor_readings LIMIT 1").fetchall()
            db = "connected"
        except sqlite3.Error:
            db = "error"
        finally:
            conn.close()
        return jsonify({"status": "healthy", "database": db, "model": "loaded",
                        "timestamp": now()})

    @app.route("/api/current-status")
    def current_status():
        conn = connect()
        try:
            lines = {}
            for line_id, info in LINES.items():
                row = conn.execute(
                    "SELECT temperature, humidity, sound_level FROM sensor_readings "
                    "WHERE production_line = ? ORDER BY ts_ms DESC LIMIT 1", (line_id,)).fetchone()
                sensors = dict(zip(FEATURES, row)) if row else {f: None for f in FEATURES}
                s = score([sensors[f] for f in FEATURES]) if row else 0.0
                lines[line_id] = {"name": info["name"], "components": info["components"],
                                  "sensors": sensors, "anomaly_score": s, "status": status_of(s)}
            recent = [dict(r) for r in conn.execute(
                "SELECT timestamp, production_line, component_id, temperature, humidity, "
                "sound_level, is_anomaly, anomaly_score FROM sensor_readings "
                "ORDER BY ts_ms DESC LIMIT 10")]
        finally:
            conn.close()
        return jsonify({"model_status": {"features": FEATURES, "model_loaded": True,
                                         "model_type": "IsolationForest", "scaler_loaded": True},
                        "production_lines": lines, "recent_data": recent, "timestamp": now()})

    @app.route("/api/sensor-history/<sensor>")
    def sensor_history(sensor):
        if sensor not in FEATURES:
            return jsonify({"error": "unknown sensor"}), 404
        limit = request.args.get("limit", default=100, type=int)
        conn = connect()
        try:
            data = [{"timestamp": r[0], "production_line": r[1], "value": r[2],
                     "is_anomaly": bool(r[3])} for r in conn.execute(
                "SELECT timestamp, production_line, %s, is_anomaly FROM sensor_readings "
                "ORDER BY ts_ms DESC LIMIT ?" % sensor, (limit,))]
        finally:
            conn.close()
        return jsonify({"sensor_type": sensor, "count": len(data), "data": data})

    @app.route("/api/predict", methods=["POST"])
    def predict():
        body = request.get_json(force=True, silent=True) or {}
        for field in ["production_line", "component_id"] + FEATURES:
            if field not in body:
                return jsonify({"error": "Missing required field: %s" % field}), 400
        s = score([body[f] for f in FEATURES])
        return jsonify({"anomaly_score": round(s, 4), "production_line": body["production_line"],
                        "status": status_of(s), "timestamp": body.get("timestamp") or now()})

    return app


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--port", type=int, required=True)
    args = ap.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log per request
    make_app(args.db).run(host="127.0.0.1", port=args.port, threaded=True)


if __name__ == "__main__":
    main()
