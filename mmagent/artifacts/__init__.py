"""Media as artifacts: typed, content-addressed references (:class:`ImageRef`, :class:`AudioRef`,
:class:`VideoRef`), the store that holds their bytes, audio and video I/O, and provenance (the
workflow a produced file carries).

>>> from mmagent.artifacts import ImageRef
>>> ImageRef(id="0" * 64, mime="image/png", width=2, height=2).uri
'artifact://0000000000000000000000000000000000000000000000000000000000000000'
"""

from mmagent.artifacts._audio import load_mono, resample
from mmagent.artifacts._described import FORMATS, kind_phrase, sniff
from mmagent.artifacts._provenance import (
    SUFFIXES,
    ProvenanceExporter,
    ProvenanceTap,
    embedded_workflow,
    from_media,
    plan_document,
    read_file,
    workflow_document,
)
from mmagent.artifacts._store import (
    REF_TYPES,
    ArtifactKind,
    ArtifactRef,
    ArtifactStore,
    AudioRef,
    ImageRef,
    MediaLimits,
    VideoRef,
)
from mmagent.artifacts._video import (
    MediaDecodeError,
    VideoTooLargeError,
    evenly_spaced,
    mux_audio,
    probe_video,
    read_frames,
    write_gif,
    write_mp4,
)

__all__ = [
    "REF_TYPES", "ArtifactKind", "ArtifactRef", "ImageRef", "AudioRef", "VideoRef", "ArtifactStore",
    "MediaLimits", "load_mono", "resample", "MediaDecodeError", "evenly_spaced", "mux_audio",
    "probe_video", "read_frames", "write_gif", "write_mp4", "ProvenanceExporter",
    "ProvenanceTap", "embedded_workflow", "from_media", "plan_document", "read_file",
    "workflow_document", "SUFFIXES", "VideoTooLargeError", "FORMATS", "kind_phrase", "sniff",
]
