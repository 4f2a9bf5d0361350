"""A progress bar per stage, driven by GenerationService events."""

from tqdm import tqdm

from unclip.v1 import generation_pb2


class ProgressBars:
    def __init__(self):
        self._bars: dict[int, tqdm] = {}

    def __enter__(self) -> "ProgressBars":
        return self

    def __exit__(self, *exc) -> None:
        for bar in self._bars.values():
            bar.close()

    def update(self, event: generation_pb2.GenerationEvent) -> None:
        kind = event.WhichOneof("kind")
        if kind == "stage_started":
            name = generation_pb2.Stage.Name(event.stage_started.stage).removeprefix("STAGE_").lower()
            self._bars[event.stage_started.stage] = tqdm(desc=f"{name:>14}", unit="step", leave=True)
        elif kind == "step_progress":
            bar = self._bars[event.step_progress.stage]
            bar.total = event.step_progress.progress.total_steps
            bar.n = event.step_progress.progress.step
            bar.refresh()
        elif kind == "stage_finished":
            bar = self._bars.pop(event.stage_finished.stage)
            bar.set_postfix_str(f"{event.stage_finished.seconds:.2f}s")
            bar.close()
