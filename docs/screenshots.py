"""Take the dashboard screenshots in docs/: `python docs/screenshots.py` (needs Playwright and Chromium,
as the browser tests do). A small sweep is stored in a temporary directory: 4 learning rates × 2
penalties × 2 seeds, with records, a summary metric and a figure."""

from __future__ import annotations

import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

TRAIN = '''
import math
import random
from dataclasses import dataclass

from machinable import Experiment


class Train(Experiment):
    @dataclass
    class Config:
        lr: float = 0.1
        penalty: str = "l2"

    def on_execute(self):
        noise = random.Random(self.seed)
        loss = 1.0
        for step in range(60):
            loss *= 1 - self.config.lr * (0.5 if self.config.penalty == "l1" else 0.4)
            self.record().save(step=step, loss=loss + noise.random() * 0.02, accuracy=1 - loss / 2)
        self.summary["test_acc"] = round(1 - loss / 2 - noise.random() * 0.01, 4)
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure, axes = plt.subplots(figsize=(4, 2.5))
        axes.plot(self.records().pluck("step"), self.records().pluck("loss"))
        axes.set_title(f"lr={self.config.lr}, penalty={self.config.penalty}")
        self.save_data("loss.png", figure)
        plt.close(figure)
'''


def main() -> None:
    from machinable import find, get
    from machinable.project import Project
    from machinable.storage.filesystem import Filesystem
    from machinable.ui import create_server
    from ui_support import chromium

    root = tempfile.mkdtemp(prefix="machinable-screenshots-")
    with open(os.path.join(root, "train.py"), "w") as f:
        f.write(TRAIN)
    sys.path.insert(0, root)
    storage = Filesystem({"directory": os.path.join(root, "storage")})
    with Project(root), storage:
        for lr in (0.02, 0.05, 0.1, 0.2):
            for penalty in ("l1", "l2"):
                for seed in (1, 2):
                    get("train", {"lr": lr, "penalty": penalty}, seed=seed).launch()
        runs = find("train", sort="-summary.test_acc")
    server = create_server(storage, port=0).start()
    try:
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1280, "height": 820})
            page.goto(f"{server.url}#/?sort=-summary.test_acc")
            page.wait_for_selector("#experiments tbody tr")
            page.screenshot(path=os.path.join(HERE, "runs-table.png"))
            ids = ",".join(run.experiment_id for run in runs)
            page.goto(f"{server.url}#/compare?ids={ids}")
            page.wait_for_selector('#compare-plots svg[data-column="loss"] path.series')
            page.check("#compare-replicates")
            page.wait_for_selector("polygon.band")
            page.screenshot(path=os.path.join(HERE, "compare.png"), full_page=True)
            page.goto(f"{server.url}#/experiment/{runs[0].experiment_id}")
            page.wait_for_selector("#figures img")
            page.wait_for_function("() => [...document.querySelectorAll('#figures img')].every(i => i.complete)")
            page.screenshot(path=os.path.join(HERE, "experiment.png"), full_page=True)
    finally:
        server.stop()
    print("wrote", ", ".join(os.path.join(HERE, name) for name in ("runs-table.png", "compare.png", "experiment.png")))


if __name__ == "__main__":
    main()
