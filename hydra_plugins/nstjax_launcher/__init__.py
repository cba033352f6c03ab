"""``hydra/launcher=nstjax_batched``: a sweep's jobs that can share a batch run as one (``nstjax.run.batch``).

Hydra prepares each job as its own launcher would (directory, saved config, logging); the runs then
happen in batches of jobs that differ only in loss weights, init or seed, each job still writing its
own outputs. Other jobs run one by one, as with the basic launcher.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from hydra._internal.core_plugins.basic_launcher import BasicLauncher
from hydra.core.config_store import ConfigStore
from hydra.core.utils import JobReturn


@dataclass
class BatchedLauncherConf:
    _target_: str = "hydra_plugins.nstjax_launcher.BatchedLauncher"
    max_batch: int = 8  # runs per batch: memory grows with it (checked before starting)


ConfigStore.instance().store(group="hydra/launcher", name="nstjax_batched", node=BatchedLauncherConf, provider="nstjax")


class BatchedLauncher(BasicLauncher):
    def __init__(self, max_batch: int = 8) -> None:
        super().__init__()
        self.max_batch = max_batch

    def launch(self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> Sequence[JobReturn]:
        from nstjax.entry.stylize import collect_job, run_collected

        jobs, task = [], self.task_function
        self.task_function = lambda cfg: jobs.append(collect_job(cfg))  # set each job up, run nothing yet
        try:
            returns = super().launch(job_overrides, initial_job_idx)
        finally:
            self.task_function = task
        outcomes = run_collected(jobs, self.max_batch)  # by output directory
        for ret in returns:
            if ret.hydra_cfg is not None and ret.status.name == "COMPLETED":
                ret.return_value = outcomes.get(ret.hydra_cfg.hydra.runtime.output_dir)
        return returns
