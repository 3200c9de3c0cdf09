from dataclasses import dataclass

from machinable import Experiment


class EstimateGravity(Experiment):
    """Estimate the gravity on an exoplanet from a dropped object's fall time."""

    @dataclass
    class Config:
        time_dilation: float = 1.0
        verbose: bool = True

    def on_execute(self):
        height = 52
        time = 0.3 * self.config.time_dilation
        if self.config.verbose:
            print(f"Assuming height of {height} and time of {time}")
        g = 2 * height / time**2
        print("The gravity on the exoplanet is: ", g)
        self.save_data("gravity.json", {"g": g})
