import random
from dataclasses import dataclass

from machinable import Experiment


class MonteCarloPi(Experiment):
    """Estimate pi by throwing random points at the unit square."""

    @dataclass
    class Config:
        samples: int = 100_000
        batches: int = 10

    def on_execute(self):
        record = self.record()
        inside = thrown = 0
        per_batch = self.config.samples // self.config.batches
        for batch in range(self.config.batches):
            for _ in range(per_batch):
                x, y = random.random(), random.random()
                inside += x * x + y * y <= 1.0
            thrown += per_batch
            record["batch"] = batch
            record["estimate"] = 4 * inside / thrown
            record.save()
        self.save_data("result.json", {"pi": 4 * inside / thrown, "samples": thrown})
        print(f"pi is about {4 * inside / thrown:.5f} after {thrown} samples (seed {self.seed})")
