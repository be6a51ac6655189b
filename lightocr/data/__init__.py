"""Data: sources (LMDB, label files, image folders, synthetic lines and glyphs), the datasets with their skip
policy, and the DataModules of text recognition and image classification."""
from .classification import ClassificationDataModule, GlyphSource, ImageFolderSource
from .datamodule import TextRecognitionDataModule
from .dataset import SKIP_KINDS, BadSampleError, LineCollator, SkippedSample, TextLineDataset
from .sources import ImageFilesSource, LabelFileSource, LmdbSource, MixedSource, TextSource
from .synthetic import BUILTIN_FONT, SyntheticTextSource, find_fonts
from .transforms import LineGeometry, default_augment, resize_line

__all__ = ["BUILTIN_FONT", "BadSampleError", "ClassificationDataModule", "GlyphSource", "ImageFilesSource",
           "ImageFolderSource", "LabelFileSource", "LineCollator", "LineGeometry", "LmdbSource", "MixedSource",
           "SKIP_KINDS", "SkippedSample", "SyntheticTextSource", "TextLineDataset", "TextRecognitionDataModule",
           "TextSource", "default_augment", "find_fonts", "resize_line"]
