"""The errors lightocr raises for what a user can fix: a config, a checkpoint, a model file, data, a run folder.

Library code raises them; the command-line mains (``lightning``, ``lightocr``) print their message, naming the
file or setting, and exit non-zero instead of showing a traceback.
"""


class LightOCRError(Exception):
    """Base of the errors the command lines turn into a message and an exit code (``exit_code``)."""
    exit_code = 1


class ConfigError(LightOCRError, ValueError):
    """A config file that cannot be read, or a setting that cannot work."""


class CheckpointError(LightOCRError):
    """A checkpoint that is missing, unreadable, of another task or version, or that cannot be written."""


class ModelFileError(LightOCRError):
    """An exported model (``.onnx``) that is missing, unreadable, or lacks what a reader needs."""


class MissingPackageError(LightOCRError, ImportError):
    """An optional package a command needs is not installed."""


class DataError(LightOCRError, ValueError):
    """A data file that cannot be read at all (a label or charset file), named with its line."""


class RunFolderError(LightOCRError):
    """A run folder that another live process holds."""


class NonFiniteTrainingError(LightOCRError, FloatingPointError):
    """Training produced non-finite losses or gradients for too many steps in a row, or a checkpoint about to be
    written holds non-finite weights."""


class TrainingStopped(LightOCRError):
    """Training stopped by a signal after saving its checkpoint; ``exit_code`` is ``128 + signal`` (143 for
    SIGTERM), the shell's convention for a process ended by that signal."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.signum = signum
        self.exit_code = 128 + signum
