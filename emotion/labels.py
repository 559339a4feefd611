"""The emotion labels, defined once for the whole project.

FER2013's numeric order (0=angry ... 6=neutral) is the canonical order. A trained model stores
the order it was trained with (see `emotion.modelfile`), so nothing downstream assumes this order
for a model file; it is only the default for new training runs.
"""

FER2013_LABELS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")

# Folder names other datasets use for the same classes (CK+, JAFFE, AffectNet, RAF-DB ...).
ALIASES: dict[str, str] = {
    "anger": "angry",
    "angry": "angry",
    "mad": "angry",
    "disgust": "disgust",
    "disgusted": "disgust",
    "fear": "fear",
    "fearful": "fear",
    "afraid": "fear",
    "scared": "fear",
    "happy": "happy",
    "happiness": "happy",
    "joy": "happy",
    "smile": "happy",
    "sad": "sad",
    "sadness": "sad",
    "surprise": "surprise",
    "surprised": "surprise",
    "neutral": "neutral",
    "calm": "neutral",
}


def canonical_label(name: str) -> str | None:
    """Return the FER2013 label a folder or class name stands for, or None if unknown."""
    return ALIASES.get(name.strip().lower())
