"""Free text to a vector in a published HGNN item space, through the model's text-only path.

An item's exported HGNN vector is computed from its text vector (``text_features``: MiniLM, mean
pooling, L2 norm) and its neighbours' messages. A search query has no neighbours, so it takes the
path a brand-new item with no edge takes (``HGNN.inference`` on an isolated node): at every layer
only the shared root transform applies (``HeteroSAGEConv.combine`` with no message), ReLU between
layers, L2 norm at the end; its co-consumption sketch (``embedding_jobs.data.sketch``) is zero, as
an edgeless item's is, and a per-item ID vector, when the model has one, is zero (``has_id`` is
False for such nodes). The root is shared by every content type, so the vector does not depend on
a type; the type filter is applied in Milvus.

The text model must be the one the checkpoint was trained on: its key (``text_features.model_key``)
is compared with the key recorded in the checkpoint's config, and a mismatch is refused.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from embedding_jobs.checkpoint import load_checkpoint
from embedding_jobs.models.hgnn import HGNN, HGNNSpec
from embedding_jobs.text_features import TextEncoder, model_key, resolve_model_path
from gfm.config import Config, TextConfig
from gfm.errors import DimensionError, NotFoundError, StageError
from gfm.naming import checkpoint_dir

__all__ = ["TextQueryEncoder", "text_only_forward"]

MODEL = "hgnn"


@torch.no_grad()
def text_only_forward(model: HGNN, text_vectors: torch.Tensor) -> torch.Tensor:
    """Embed nodes that have no edge and no ID vector: root transforms only, as ``inference`` does.

    Args:
        model: A trained HGNN that reads text features.
        text_vectors: ``[n, d]`` text vectors, ``d`` the model's text input size (``in_dim`` less
            the sketch, which is zero for a node without edges).

    Returns:
        ``[n, out_dim]`` unit vectors.

    """
    h = text_vectors
    if model.spec.sketch_dim:
        h = torch.cat([h, h.new_zeros((h.shape[0], model.spec.sketch_dim))], dim=1)
    if model.spec.item_id_dim:
        h = torch.cat([h, h.new_zeros((h.shape[0], model.spec.item_id_dim))], dim=1)
    last = len(model.convs) - 1
    for i, layer in enumerate(model.convs):
        h = layer.combine(h, {})
        if i < last:
            h = F.relu(h)
    return F.normalize(h, dim=-1)


class TextQueryEncoder:
    """Encode query texts into the item space of one HGNN version.

    Args:
        cfg: The config (``text`` section and ``models_dir``).
        version: The HGNN version whose space to map into (its checkpoint must exist).
        encoder: A text encoder to reuse (loaded from ``cfg.text`` when None).

    Raises:
        NotFoundError: If the checkpoint or the text model is missing.
        StageError: If the model was trained on ID embeddings (it has no text path) or with
            another text model.

    """

    def __init__(self, cfg: Config, version: str, encoder: TextEncoder | None = None) -> None:
        state, card = load_checkpoint(checkpoint_dir(cfg.models_dir, MODEL, version), map_location="cpu")
        spec = HGNNSpec.from_dict(state["spec"])
        if spec.id_embeddings or spec.in_dim == spec.sketch_dim:
            inputs = "ID embeddings" if spec.id_embeddings else "co-consumption sketches alone"
            raise StageError(f"HGNN version {version} was trained on {inputs}, not text: it has no text path")
        model_path = resolve_model_path(cfg.text)
        trained = _trained_text_model(card.config)
        if trained is not None and model_key(trained) != model_key(model_path):
            raise StageError(
                f"HGNN version {version} was trained on text model {model_key(trained)}, but "
                f"text.model_path gives {model_key(model_path)}: query vectors would not match"
            )
        self.version = version
        self.model = HGNN(spec)
        self.model.load_state_dict(state["state_dict"])
        self.model.eval()
        self.text = encoder or TextEncoder(model_path, cfg.text.max_length, device="cpu")
        if self.text.dim != spec.in_dim - spec.sketch_dim:
            raise DimensionError(
                f"text model gives {self.text.dim}-d vectors; HGNN expects {spec.in_dim - spec.sketch_dim}"
            )
        self._lock = threading.Lock()

    @property
    def dim(self) -> int:
        """Output dimension (the published item vectors' dimension)."""
        return self.model.spec.out_dim

    def text_vectors(self, texts: list[str]) -> np.ndarray:
        """The plain text-model vectors of ``texts`` (unit norm), as item text features are made."""
        with self._lock:  # one forward pass at a time: the service calls from a thread pool
            return self.text.encode(texts)

    def encode(self, texts: list[str]) -> np.ndarray:
        """Vectors of ``texts`` in the HGNN item space, shape ``(len(texts), out_dim)``, unit norm."""
        base = torch.from_numpy(self.text_vectors(texts))
        out: np.ndarray = text_only_forward(self.model, base).numpy()
        return out


def _trained_text_model(config: dict[str, object]) -> Path | None:
    """The text model a checkpoint's config names (None when it cannot be resolved here)."""
    section = config.get("text")
    if not isinstance(section, dict):
        return None
    try:
        return resolve_model_path(TextConfig.model_validate(section))
    except (NotFoundError, ValueError):  # a model folder that moved: the dimension check remains
        return None
