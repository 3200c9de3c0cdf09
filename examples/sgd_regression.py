"""A scikit-learn training loop that checkpoints, so a killed or failed run resumes where it was.

    pip install scikit-learn && python sgd_regression.py

Run it, interrupt it with Ctrl+C half way, run it again: the second run continues from the last
checkpoint (and its records continue the first run's), instead of starting over.
"""

from dataclasses import dataclass

from machinable import Experiment, get


class SgdRegression(Experiment):
    @dataclass
    class Config:
        steps: int = 50
        batch: int = 64
        alpha: float = 1e-4
        checkpoint_every: int = 10

    def on_execute(self):
        import numpy as np
        from sklearn.linear_model import SGDRegressor

        checkpoint = self.load_checkpoint()
        if checkpoint is None:
            model, start = SGDRegressor(alpha=self.config.alpha, random_state=self.seed), 0
        else:
            model, start = checkpoint.value, checkpoint.step + 1
            print(f"resuming from the checkpoint of step {checkpoint.step}")
        weights = np.arange(1.0, 6.0)
        for step in range(start, self.config.steps):
            data = np.random.default_rng([self.seed, step])  # the same batch for a step, resumed or not
            x = data.normal(size=(self.config.batch, len(weights)))
            y = x @ weights + data.normal(scale=0.1, size=self.config.batch)
            model.partial_fit(x, y)
            self.record().save(step=step, loss=float(np.mean((model.predict(x) - y) ** 2)))
            if step % self.config.checkpoint_every == 0:
                self.save_checkpoint(model, step=step)
        self.summary["coef_error"] = float(np.abs(model.coef_ - weights).max())


if __name__ == "__main__":
    experiment = get("sgd_regression", {"steps": 50}).launch()
    rows = experiment.records()
    print(f"{len(rows)} steps, final loss {rows[-1]['loss']:.4f}, summary {experiment.summary()}")
