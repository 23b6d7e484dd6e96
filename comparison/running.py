"""Running a plan's trials in a run folder, and saying truly how it ended.

`run_plan` opens (or resumes, or replaces) the run folder and its study, takes trials from
the study until none is left (other workers may share them), and writes the report of every
finished trial. How it ends decides what is written and said:

- all trials finished: the report; an `--overwrite` replaces the old run.
- a stop signal during a trial: the trial goes back in the queue; the report of what
  finished is written; `StopRequested` is raised (an `--overwrite` is not completed: the
  old run stays, the new one beside it).
- a stop signal while the report is written: the report is finished, the run completed
  (swapped, for `--overwrite`), then `StopRequested` is raised.
- a full disk (or a quota, a read-only mount, a locked database): the report of what
  finished, if it can be written, and a ComparisonError saying what is kept; an
  `--overwrite` discards the new run and leaves the old one unchanged.
"""

import os
import sys
from dataclasses import dataclass

from comparison.results import Comparison
from comparison.study import TrialInterrupted, default_storage, finished_results, last_completed, open_study, run_worker
from comparison.tensorboard import Experiment, seeds_label
from reporting.report import write_report
from runtime import interrupts
from runtime.errors import ComparisonError
from runtime.progress import Progress
from runtime.run_folder import open_run_folder, quiet_storage_problems_in_threads, storage_problem, this_tools_runs


class StopRequested(KeyboardInterrupt):
    """Ctrl-C or SIGTERM stopped the run after its report was written. `.outcome` is the
    Outcome (the run folder, what finished), `.completed` whether every trial had finished."""

    def __init__(self, outcome, completed):
        super().__init__()
        self.outcome, self.completed = outcome, completed


@dataclass
class Outcome:
    path: str  # the run folder, under its final name
    name: str
    comparison: Comparison | None  # of every finished trial (and the interrupted one); None if none
    replaced_kept: str | None = None  # an interrupted --overwrite: where its new run was left


def run_plan(options, trials, data, models, trainer, inputs, command, say=print):
    """Runs `trials` in their run folder and writes the report; returns an Outcome (see the
    module's docstring for how a stop or a full disk ends it)."""
    plan = [trial.to_dict() for trial in trials]
    with open_run_folder(options.logdir, options.run_name, plan, inputs, command, resume=options.resume,
                         overwrite=options.overwrite) as folder:
        final_path = os.path.join(options.logdir, folder.name)
        say(f"Run folder: {final_path}" + (f" (written in {folder.path} until it finishes)"
                                           if folder.path != final_path else ""))
        study = open_study(options.storage or default_storage(folder.path), folder.study, trials, folder.created,
                           given=bool(options.storage))
        folder.ready(plan, inputs)
        already_done = len(finished_results(study, trials)) == len(trials)
        ran, partial, no_room, stopped = [], None, None, False
        with quiet_storage_problems_in_threads():
            try:
                ran = _work(study, trials, data, trainer, folder, Progress(trials, models, say),
                            _experiment(options, folder, trainer))
            except KeyboardInterrupt as stop:
                interrupts.stopping()
                stopped = True
                partial = stop.result if isinstance(stop, TrialInterrupted) else None
                say("\nInterrupted: event files flushed; summary of what finished:", file=sys.stderr, flush=True)
            except Exception as error:
                no_room = storage_problem(error)
                if no_room is None:
                    raise
                say("\nCannot write any more; summary of what finished:", flush=True)
        comparison, report_stopped = None, False
        try:
            with interrupts.deferred():
                comparison, no_room = _report(study, trials, data, models, folder, options, partial, no_room,
                                              write=stopped or no_room or already_done
                                              or (ran and ran[-1] == last_completed(study)),
                                              final=folder.path if stopped else final_path, say=say)
        except KeyboardInterrupt:
            interrupts.stopping()
            report_stopped = True
        outcome = Outcome(final_path, folder.name, comparison)
        if no_room:
            finished = len(finished_results(study, trials))
            if folder.replacing:
                raise ComparisonError(f"cannot write to {folder.path} ({no_room}); the new run is discarded and "
                                      f"{folder.replacing} is unchanged")
            raise ComparisonError(f"cannot write to {folder.path} ({no_room}); its {finished} finished trials are "
                                  f"kept there: resume it (the same options, --run-name={folder.name} --resume) once "
                                  "it can be written")
        if stopped:
            outcome.replaced_kept = folder.path if folder.replacing else None
            raise StopRequested(outcome, completed=False)  # through the folder: an --overwrite is not completed
    if report_stopped:
        raise StopRequested(outcome, completed=True)
    return outcome


def _work(study, trials, data, trainer, folder, progress, experiment):
    def run_one(trial):
        progress.starting(trial)
        return trainer.train(trial, data[trial.model], os.path.join(folder.path, trial.name), experiment)

    return run_worker(study, trials, run_one, progress)


def _experiment(options, folder, trainer):
    """The HParams experiment of this invocation's trials (comparison.tensorboard)."""
    from optimizers.hyperparameters import HYPERPARAMETERS
    from optimizers.registry import REGISTRY

    invocations = sorted({folder.name} | set(this_tools_runs(options.logdir)))
    rules = trainer.rules.values()
    extra = sorted({h for rule in rules for h in rule.hyperparameters if h not in HYPERPARAMETERS})
    return Experiment(folder.name, tuple(invocations), tuple(dict.fromkeys([*REGISTRY, *trainer.rules])),
                      seeds_label(options.seed_range), tuple(extra))


def _report(study, trials, data, models, folder, options, partial, no_room, write, final, say):
    """(The Comparison of what finished, the storage problem if writing it failed). The
    report is written under the folder's report lock, from the study as it is then: whoever
    writes last describes every finished trial. `final`: where its files will be (an
    --overwrite's new folder is swapped into place once the report is written)."""
    with folder.report_lock():
        finished = finished_results(study, trials)
        results = [finished[t.name] for t in trials if t.name in finished]
        if partial is not None and partial.trial.name not in finished:
            results.append(partial)
        if not results:
            say("Nothing finished; nothing to report.")
            return None, no_room
        comparison = Comparison(results, options.target_loss)
        if not write:
            say(f"\nThe last trial finished in another process, which writes the report in {folder.path}")
            return comparison, no_room
        try:
            write_report(comparison, data, models, folder.path, print=say, final=final)
        except Exception as error:
            no_room = no_room or storage_problem(error)
            if no_room is None:
                raise
        return comparison, no_room
