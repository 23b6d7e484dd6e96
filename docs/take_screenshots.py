"""Screenshots of TensorBoard showing this project's logs, taken in a real (headless) browser.

A development script, not part of the project: it drives TensorBoard the way a user would and
prints, for each screenshot, the clicks it took, so that the README can list them. It
1. runs a small sweep with train.py into a temporary log folder (or uses --logdir),
2. starts TensorBoard on it with the command train.py prints ("Open TensorBoard: ...") and
   waits until every run is loaded,
3. opens headless Chromium at 1600x1000 and saves PNGs of Time Series (the mean runs'
   val_loss card, linear and log y axis), the HParams table (sorted by the final loss, and
   with one group's per-seed metrics), parallel coordinates (learning rate on a log axis),
   Custom Scalars (the margin charts), the Text dashboard (the summary table) and the figures
   (lr_sensitivity.png, hill_linear.png) at their actual size,
4. waits for what proves the data rendered before each screenshot, not for a fixed time.

Install (once; a virtual environment of its own is fine, playwright's own browser download
is not needed):

    sudo apt-get install -y chromium           # the browser (Debian/Ubuntu package name)
    python -m venv ~/.venvs/browser
    ~/.venvs/browser/bin/pip install -r requirements-browser.txt

Run, from the repository root (--python is the project's Python, which runs train.py and
TensorBoard; the default is .venv/bin/python if there is one, else this Python):

    ~/.venvs/browser/bin/python docs/take_screenshots.py --python .venv/bin/python
    ~/.venvs/browser/bin/python docs/take_screenshots.py --logdir logs --invocation NAME --out /tmp/shots

Options: --out (default docs/screenshots-new), --logdir (skip training), --second (add a
second, tiny invocation), --keep (keep the temporary log folder), --timeout (seconds to wait
for each thing to render). It exits 1 if a screenshot failed (saved as NAME-FAILED.png).
"""

import argparse
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SWEEP = ["--model", "linear", "--opt", "sgd", "momentum", "rmsprop", "adam", "--sweep", "--seeds", "3",
         "--run-name", "sweep"]
SECOND = ["--model", "linear", "--opt", "sgd", "adam", "--lr", "0.1", "1", "--seeds", "2", "--run-name", "second"]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
VIEWPORT = {"width": 1600, "height": 1000}
MEAN_RUN = re.compile(r"^(?P<inv>[^/]+)/(?P<model>[^/]+)/(?P<opt>[^/]+)/mean,lr=(?P<lr>[^/]+)$")
TRIAL_RUN = re.compile(r"^(?P<group>[^/]+/[^/]+/[^/]+/lr=[^,/]+),seed=\d+$")

def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_python = os.path.join(REPO, ".venv", "bin", "python")
    parser.add_argument("--python", default=default_python if os.path.exists(default_python) else sys.executable,
                        help="the project's Python: runs train.py and TensorBoard")
    parser.add_argument("--logdir", help="an existing log folder: no training")
    parser.add_argument("--invocation", help="the run whose summary and figures to show (default: sweep, "
                                             "else the first invocation)")
    parser.add_argument("--out", default=os.path.join(REPO, "docs", "screenshots-new"))
    parser.add_argument("--second", action="store_true", help="also run a second, tiny invocation")
    parser.add_argument("--keep", action="store_true", help="keep the temporary log folder")
    parser.add_argument("--only", nargs="+", choices=VIEWS, help="only these views (default: all)")
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait for each thing (default 60)")
    return parser.parse_args()


# --- training and TensorBoard -----------------------------------------------------------------

def train(python, logdir, arguments):
    """Runs train.py; returns the TensorBoard command it printed last, as a list."""
    command = [python, "train.py", *arguments, "--logdir", logdir]
    print("$", shlex.join(command), flush=True)
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"train.py failed ({result.returncode}):\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    printed = [line.removeprefix("Open TensorBoard: ") for line in result.stdout.splitlines()
               if line.startswith("Open TensorBoard: ")]
    if not printed:
        sys.exit("train.py printed no 'Open TensorBoard: ...' line")
    return shlex.split(printed[-1])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def event_runs(logdir):
    """The folders holding an event file: the runs TensorBoard should list."""
    return {os.path.relpath(folder, logdir) for folder, _, files in os.walk(logdir)
            if any(name.startswith("events.out.tfevents") for name in files)}


class Board:
    """A TensorBoard server started with `command` plus --host and --port."""

    def __init__(self, command, timeout):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.timeout = timeout
        self.log = tempfile.TemporaryFile()
        argv = [*command, "--host", "127.0.0.1", "--port", str(self.port)]
        print("$", shlex.join(argv), flush=True)
        self.process = subprocess.Popen(argv, cwd=REPO, stdout=self.log, stderr=subprocess.STDOUT,
                                        start_new_session=True)

    def get(self, path):
        with urllib.request.urlopen(self.url + path, timeout=30) as response:
            return json.load(response)

    def _look(self):
        runs = sorted(self.get("/data/runs"))
        return runs, self.get("/data/plugin/scalars/tags"), self.get("/data/plugin/images/tags")

    def wait_loaded(self, expected):
        """Polls the runs and the scalar and image tags until every expected run is listed
        and two looks in a row agree; returns the run names."""
        deadline, last = time.monotonic() + max(self.timeout, 120), None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.seek(0)
                sys.exit(f"TensorBoard exited:\n{self.log.read().decode(errors='replace')[-3000:]}")
            try:
                look = self._look()
            except (urllib.error.URLError, ConnectionError, json.JSONDecodeError):
                look = None
            if look and expected <= set(look[0]) and look == last:
                return look[0]
            last = look
            time.sleep(2)
        raise TimeoutError(f"TensorBoard did not load the {len(expected)} runs in time")

    def close(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait()
        self.log.close()


def describe(runs, invocation):
    """What the screenshots need to know about the runs in the log folder."""
    means = [m for m in map(MEAN_RUN.match, runs) if m]
    invocations = sorted(r for r in runs if "/" not in r and r != ".")
    if not means or not invocations:
        sys.exit(f"no mean runs or no invocation run among {len(runs)} runs: is this the project's log folder?")
    invocation = invocation or ("sweep" if "sweep" in invocations else invocations[0])
    model = next(m["model"] for m in means if m["inv"] == invocation)
    optimizers = list(dict.fromkeys(m["opt"] for m in means if m["inv"] == invocation))
    groups = {m["group"] for m in map(TRIAL_RUN.match, runs) if m}
    return {"invocation": invocation, "invocations": invocations, "model": model, "optimizers": optimizers,
            "means": [m.string for m in means if m["model"] == model], "groups": len(groups)}


# --- the browser --------------------------------------------------------------------------------

class Shooter:
    """One browser; each view gets a fresh page (no state carried over from the previous
    view) and its own list of steps, printed with each screenshot."""

    def __init__(self, browser, board, out, timeout):
        self.browser, self.board, self.out = browser, board, out
        self.timeout_ms = timeout * 1000
        self.page, self.steps, self.failed, self.taken = None, [], [], []

    @contextmanager
    def view(self, name):
        context = self.browser.new_context(viewport=VIEWPORT)
        context.set_default_timeout(self.timeout_ms)
        self.page, self.steps = context.new_page(), []
        try:
            yield self.page
        except Exception as error:  # playwright's TimeoutError and Error: keep going with the next view
            path = os.path.join(self.out, f"{name}-FAILED.png")
            try:
                self.page.screenshot(path=path)
            except Exception:
                path = "(no screenshot)"
            print(f"\nFAILED {name}: {type(error).__name__}: {str(error).strip().splitlines()[0]}; page: {path}")
            self.failed.append(name)
        finally:
            context.close()

    def open(self, fragment, query=None, step=None):
        """Opens TensorBoard at `?query#fragment`; `step` says how a user gets there by hand."""
        address = ("/?" + urllib.parse.urlencode(query) if query else "/") + "#" + fragment
        self.page.goto(self.board.url + address, wait_until="domcontentloaded")
        self.steps.append(f"open <tensorboard>{address}" + (f"  (by hand: {step})" if step else ""))

    def click(self, locator, step):
        locator.click()
        self.steps.append(step)

    def wait_count(self, selector, at_least=1, text=None):
        """Waits until `at_least` elements match `selector` (and contain `text`). Playwright's
        CSS pierces shadow roots: TensorBoard's legacy dashboards are Polymer elements."""
        locator = self.page.locator(selector)
        if text:
            locator = locator.filter(has_text=text)
        locator.nth(at_least - 1).wait_for(state="attached")

    def shot(self, name, shows):
        path = os.path.join(self.out, f"{name}.png")
        self.page.mouse.move(1, self.page.viewport_size["height"] - 1)  # no hover tooltip
        self.page.wait_for_timeout(500)  # let a redraw that the last click started finish
        self.page.screenshot(path=path)
        self.taken.append(path)
        print(f"\n{os.path.relpath(path)}\n  shows: {shows}\n  clicks:")
        for number, step in enumerate(self.steps, 1):
            print(f"    {number}. {step}")


def _top_left_visible(locator):
    """The index of the visible element of `locator` nearest the top (then the left)."""
    boxes = [(box["y"], box["x"], i) for i, box in enumerate(l.bounding_box() for l in locator.all())
             if box and box["height"] > 0]
    return min(boxes)[2]


# --- the views ----------------------------------------------------------------------------------

def shoot_time_series(s, info):
    """(a) The mean runs' val_loss card: one line per optimizer; then its y axis on log scale."""
    tag, optimizers = f"{info['model']}/val_loss", "|".join(info["optimizers"])
    with s.view("timeseries_val_loss") as page:
        s.open("timeseries", {"runFilter": "mean", "tagFilter": f"^{tag}$", "smoothing": "0",
                              "runColorGroup": f"regex:({optimizers})"},
               step=f"TIME SERIES tab; type `mean` in 'Filter runs'; type `^{tag}$` in 'Filter tags'; "
                    f"Settings > Smoothing 0; colour runs by regex `({optimizers})`")
        s.wait_count("scalar-card tb-data-table-content-row", len(info["means"]))
        close = page.locator("button[aria-label='Close side pane']")
        if close.is_visible():
            s.click(close, "close the Settings pane (X)")
        card = page.locator("scalar-card").first
        s.click(card.locator("button[aria-label='Expand Table']"), "the card's table: 'Expand Table' (chevron below it)")
        s.click(card.locator("button[aria-label='Toggle full size mode']"), "the card: 'Toggle full size mode'")
        page.wait_for_function("() => document.querySelector('scalar-card').getBoundingClientRect().width > 1000")
        s.shot("timeseries_val_loss", f"{tag} of the {len(info['means'])} mean runs (mean over seeds, each "
                                      "optimizer at its best learning rate), one line each, with the values at the last step")
        ticks = "() => Array.from(document.querySelectorAll('scalar-card line-chart-axis text')).map(t => t.textContent).join()"
        before = page.evaluate(ticks)
        s.click(card.locator("button[aria-label='More line chart options']"), "the card's menu (three dots)")
        s.click(page.locator("button[aria-label='Toggle Y-axis log scale on line chart']"), "'Toggle Y-axis log scale'")
        page.wait_for_function(f"(before) => ({ticks})() !== before", arg=before)
        s.shot("timeseries_val_loss_log", f"the same card, y axis on log scale")


def _sort_by_loss(s, page):
    """Sorts the HParams groups by the first metric, ascending; returns the server's groups."""
    def sorted_request(response):
        return (response.url.endswith("/data/plugin/hparams/session_groups")
                and "ORDER_ASC" in (response.request.post_data or ""))

    s.click(page.locator("paper-dropdown-menu[label='Sort by']"), "sidebar, Sorting: click 'Sort by'")
    s.click(page.locator("paper-dropdown-menu[label='Sort by'] paper-item", has_text="final loss"),
            "pick 'final loss (validation; a surface: height)'")
    with page.expect_response(sorted_request) as response:
        s.click(page.locator("paper-dropdown-menu[label='Direction']"), "click 'Direction'")
        s.click(page.locator("paper-dropdown-menu[label='Direction'] paper-item", has_text="Ascending"),
                "pick 'Ascending'")
    return response.value.json()["sessionGroups"]


def _loss(group):
    return next(m["value"] for m in group["metricValues"] if m["name"]["tag"] == "hparams/loss")


def shoot_hparams_table(s, info):
    """(b) The HParams table, one row per setting, sorted by the final loss; then the top row's seeds."""
    with s.view("hparams_table") as page:
        s.open("hparams", step="HPARAMS tab")
        s.wait_count("vaadin-grid-cell-content", min(info["groups"], 15), text=info["invocation"] + "/")
        if len(info["invocations"]) == 1:
            s.click(page.locator("paper-checkbox", has_text="invocation").first,
                    "sidebar: untick 'invocation' (one value; makes room for 'final train loss')")
        groups = _sort_by_loss(s, page)
        best = groups[0]["name"]
        top = ("(names) => { const cells = [];"
               " const walk = r => { r.querySelectorAll('vaadin-grid-cell-content').forEach(c => {"
               "   const b = c.getBoundingClientRect(); if (b.height > 0 && names.includes(c.textContent.trim())) cells.push([b.y, c.textContent.trim()]); });"
               "   r.querySelectorAll('*').forEach(e => e.shadowRoot && walk(e.shadowRoot)); };"
               " walk(document); cells.sort((a, b) => a[0] - b[0]); return cells.length ? cells[0][1] : null; }")
        page.wait_for_function(f"(a) => ({top})(a[0]) === a[1]", arg=[[g["name"] for g in groups], best])
        rows = "; ".join(f"{g['name']} {_loss(g):.5g}" for g in groups[:4])
        last = f"{groups[-1]['name']} {_loss(groups[-1])}"
        s.shot("hparams_table", f"{len(groups)} rows (session groups), one per setting, sorted by the final "
                                f"loss: {rows} ... last: {last}")
        boxes = page.locator("vaadin-grid-cell-content paper-checkbox")
        s.click(boxes.nth(_top_left_visible(boxes)), f"tick 'Show Metrics' in the top row ({best})")
        s.wait_count("tf-hparams-session-group-details", 1, text="hparams/loss")
        s.wait_count("tf-hparams-session-group-details svg path", 5)
        seeds = len(groups[0]["sessions"])
        s.shot("hparams_table_show_metrics", f"the top row {best} opened: its {seeds} seeds' final loss and final train loss, one dot each")


def shoot_parallel_coordinates(s, info):
    """(c) Parallel coordinates with the learning rate on a logarithmic axis."""
    with s.view("hparams_parallel") as page:
        s.open("hparams", step="HPARAMS tab")
        s.wait_count("vaadin-grid-cell-content", min(info["groups"], 15), text=info["invocation"] + "/")
        s.click(page.get_by_text("PARALLEL COORDINATES VIEW"), "'PARALLEL COORDINATES VIEW'")
        s.wait_count("g.foreground path", 1)
        log = page.locator("paper-radio-button#logScaleButton_learning_rate:visible")
        s.click(log, "above the chart, box 'learning_rate': 'Logarithmic'")
        log.and_(page.locator("[aria-checked='true']")).wait_for()
        s.shot("hparams_parallel", "one line per setting (NaN groups left out), learning_rate on a log axis, "
                                   "coloured by the final loss")


def shoot_custom_scalars(s, info):
    """(d) Custom Scalars, runs filtered to the mean runs, so that the margin charts draw."""
    with s.view("custom_scalars") as page:
        s.open("custom_scalars&" + urllib.parse.urlencode({"regexInput": "mean"}),
               step="CUSTOM SCALARS tab; type `mean` in the Runs filter (above 40 runs none is "
                    "selected until a filter matches 40 or fewer)")
        s.wait_count("tf-custom-scalar-margin-chart-card", 1, text=f"Matches ({len(info['means'])})")
        card = page.locator("tf-custom-scalar-margin-chart-card").first
        s.click(card.locator("paper-icon-button[icon='fullscreen']"), "the first chart: expand (first icon below it)")
        s.click(card.locator("paper-icon-button[icon='line-weight']"), "the first chart: 'Toggle y-axis log scale' (second icon)")
        page.wait_for_function("(e) => e.getBoundingClientRect().width > 1000", arg=card.element_handle())
        s.wait_count("tf-custom-scalar-margin-chart-card path", 4)
        s.shot("custom_scalars", f"the {info['model']} margin charts: per optimizer the mean over seeds with "
                                 "its min-max band, the first chart expanded, log y axis")


def _run_filter(invocation):
    return urllib.parse.urlencode({"regexInput": f"^{invocation}$"})


def shoot_text(s, info):
    """(e) The Text dashboard: the summary table of the invocation, verdict column included."""
    with s.view("text_summary"):
        run = info["invocation"]
        s.open(f"text&{_run_filter(run)}", step=f"TEXT tab; type `^{run}$` in the Runs filter "
                                                f"(`{run}` alone matches every run of the invocation)")
        s.wait_count("tf-text-loader tr", 2)
        s.wait_count("tf-text-loader th", 1, text="vs the best")
        s.shot("text_summary", f"the summary table of {run}: per model and optimizer the best learning rate, "
                               "seeds, losses (mean ± sd), 'to target', and the verdict 'vs the best'")


def _actual_size(s, page):
    box = page.locator("paper-checkbox", has_text="Show actual image size")
    if box.get_attribute("aria-checked") != "true":
        s.click(box, "tick 'Show actual image size'")


# The bottom edge of the first image of tag `figures/<name>`, once loaded and shown at its actual size.
_LOADED_IMAGE = """(name) => {
  let bottom = null;
  const walk = (root) => {
    root.querySelectorAll('img').forEach(i => {
      const loader = i.getRootNode().host, box = i.getBoundingClientRect();
      if (bottom === null && loader && loader.tagName === 'TF-IMAGE-LOADER' && loader.tag === 'figures/' + name
          && i.complete && i.naturalWidth > 0 && Math.round(box.width) === i.naturalWidth) bottom = box.bottom;
    });
    root.querySelectorAll('*').forEach(e => { if (e.shadowRoot) walk(e.shadowRoot); });
  };
  walk(document);
  return bottom;
}"""


def shoot_image(s, info, figure):
    """(f) One figure of the invocation in the Images dashboard, at its actual size."""
    name = f"images_{figure.removesuffix('.png')}"
    with s.view(name) as page:
        run = info["invocation"]
        s.open(f"images&{_run_filter(run)}&" + urllib.parse.urlencode({"tagFilter": re.escape(figure)}),
               step=f"IMAGES tab; type `^{run}$` in the Runs filter; type `{re.escape(figure)}` in 'Filter tags'")
        _actual_size(s, page)
        bottom = page.wait_for_function(_LOADED_IMAGE, arg=figure).json_value()
        if bottom > VIEWPORT["height"]:
            height = int(bottom) + 40
            page.set_viewport_size({"width": VIEWPORT["width"], "height": height})
            s.steps.append(f"(window {VIEWPORT['width']}x{height} so that it fits; at {VIEWPORT['height']} px high, scroll)")
        s.shot(name, f"figures/{figure} of {run} at its actual size")


VIEWS = {"timeseries": shoot_time_series, "hparams_table": shoot_hparams_table,
         "hparams_parallel": shoot_parallel_coordinates, "custom_scalars": shoot_custom_scalars,
         "text": shoot_text, "images": lambda s, info: [shoot_image(s, info, figure) for figure in FIGURES]}
FIGURES = ("lr_sensitivity.png", "hill_linear.png")


def find_chromium():
    """The system's Chromium, checked before any training; playwright must be importable."""
    try:
        import playwright.sync_api  # noqa: F401  development only: see requirements-browser.txt
    except ImportError:
        sys.exit("playwright is not installed here: pip install -r requirements-browser.txt")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        sys.exit("no chromium on the PATH: sudo apt-get install -y chromium")
    return chromium


def take_screenshots(chromium, board, info, args):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            shooter = Shooter(browser, board, args.out, args.timeout)
            for name in args.only or VIEWS:
                VIEWS[name](shooter, info)
        finally:
            browser.close()
    return shooter


def main():
    args = parse_args()
    chromium = find_chromium()
    os.makedirs(args.out, exist_ok=True)
    logdir, temporary = args.logdir, None
    if logdir:
        if args.second:
            sys.exit("--second adds an invocation to the temporary log folder only, not to --logdir")
        command = [args.python, "-m", "tensorboard.main", f"--logdir={os.path.abspath(logdir)}"]
    else:
        logdir = temporary = tempfile.mkdtemp(prefix="tb-screenshots-")
        command = train(args.python, logdir, SWEEP)
        if args.second:
            command = train(args.python, logdir, SECOND)
    board = Board(command, args.timeout)
    try:
        runs = board.wait_loaded(event_runs(logdir))
        info = describe(runs, args.invocation)
        print(f"TensorBoard at {board.url}: {len(runs)} runs; invocation {info['invocation']}, "
              f"model {info['model']}, {info['groups']} settings, mean runs: {', '.join(info['means'])}", flush=True)
        shooter = take_screenshots(chromium, board, info, args)
    finally:
        board.close()
        if temporary and not args.keep:
            shutil.rmtree(temporary, ignore_errors=True)
        elif temporary:
            print(f"\nlog folder kept: {temporary}")
    print(f"\n{len(shooter.taken)} screenshots in {os.path.relpath(args.out)}"
          + (f"; FAILED: {', '.join(shooter.failed)}" if shooter.failed else ""))
    sys.exit(1 if shooter.failed else 0)


if __name__ == "__main__":
    main()
