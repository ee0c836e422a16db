"""Saved forecasters on the M3 monthly sample (BENCHMARKS.md, "Saved forecasters"): writes the files and scores runs.

  python3 bench/forecast_saved_m3.py files DIR     DIR/m3_100.csv (the bench's 100-series sample, whole series) and
                                                   DIR/m3_cut36.csv, DIR/m3_cut18.csv (each series less its last 36 / 18)
  python3 bench/forecast_saved_m3.py score SAMPLE RUN.jsonl [...]
                                                   scores each run's JSON lines (recur forecast / forecast predict
                                                   --json) on every series' last 18 points of SAMPLE: mean sMAPE, MASE
                                                   (seasonal-naive scale of the history before them, m = 12) and the
                                                   share of those points inside each interval — the panel summary's
                                                   definitions; from a predict run on, each run is also split into the
                                                   ids that run had seen in training and the others.
"""
import collections
import csv
import json
import os
import sys

# ../shared/eval/m3 beside the checkout, as bench/forecast_m3.ts reads it (M3_DIR overrides).
M3 = os.environ.get('M3_DIR', os.path.join(os.path.dirname(__file__), '..', '..', 'shared', 'eval', 'm3'))
H = 18
SEASON = 12


def files(out):
    meta = list(csv.DictReader(open(os.path.join(M3, 'series.csv'))))
    ids = {meta[(i * len(meta)) // 100]['id'] for i in range(100)}
    series = collections.OrderedDict()
    for r in csv.DictReader(open(os.path.join(M3, 'monthly.csv'))):
        if r['id'] in ids:
            series.setdefault(r['id'], []).append((int(r['t']), r['value']))
    for cut, name in ((0, 'm3_100.csv'), (36, 'm3_cut36.csv'), (18, 'm3_cut18.csv')):
        with open(os.path.join(out, name), 'w') as f:
            f.write('id,t,value\n')
            for i, points in series.items():
                points = sorted(points)
                for t, v in points[: len(points) - cut]:
                    f.write(f'{i},{t},{v}\n')


def score(sample, runs):
    series = collections.defaultdict(list)
    for r in csv.DictReader(open(sample)):
        series[r['id']].append((int(r['t']), float(r['value'])))
    values = {i: [v for _, v in sorted(p)] for i, p in series.items()}

    def line(name, forecasts):
        smape, mase, cover = [], [], collections.defaultdict(list)
        for p in forecasts:
            v = values[p['id']]
            hist, actual, f = v[:-H], v[-H:], p['forecast']
            scale = sum(abs(hist[t] - hist[t - SEASON]) for t in range(SEASON, len(hist))) / (len(hist) - SEASON)
            smape.append(sum(200 * abs(a - b) / (abs(a) + abs(b)) for a, b in zip(actual, f)) / H)
            mase.append(sum(abs(a - b) for a, b in zip(actual, f)) / H / scale)
            for iv in p['intervals']:
                inside = sum(lo <= a <= up for a, lo, up in zip(actual, iv['lower'], iv['upper']))
                cover[round(iv['level'])].append(inside / H)
        n = len(smape)
        cov = ' / '.join(f'{k}%: {100 * sum(c) / len(c):.1f}%' for k, c in sorted(cover.items()))
        print(f'{name}: {n} series, sMAPE {sum(smape) / n:.2f}, MASE {sum(mase) / n:.3f}, coverage {cov}')

    seen = None  # the ids a predict run had seen in training: later runs are split the same way
    for run in runs:
        forecasts = [p for p in map(json.loads, open(run)) if 'forecast' in p]
        line(run, forecasts)
        if any('seen' in p for p in forecasts):
            seen = {p['id'] for p in forecasts if p['seen']}
        if seen is not None:
            line(f'{run}, seen in training', [p for p in forecasts if p['id'] in seen])
            line(f'{run}, not seen', [p for p in forecasts if p['id'] not in seen])


if __name__ == '__main__':
    if len(sys.argv) >= 3 and sys.argv[1] == 'files':
        files(sys.argv[2])
    elif len(sys.argv) >= 4 and sys.argv[1] == 'score':
        score(sys.argv[2], sys.argv[3:])
    else:
        sys.exit(__doc__)
