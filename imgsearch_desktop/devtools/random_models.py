"""Build random-initialised models in the Hugging Face hub's sentence-transformers layout.

Model weights cannot be downloaded on our CI machines, so tests and benchmarks build their own models with the
same on-disk layout as ``sentence-transformers/clip-ViT-B-32`` (``modules.json`` → ``0_CLIPModel/``) and
``sentence-transformers/clip-ViT-B-32-multilingual-v1`` (Transformer → Pooling → Dense), and load them through the
app's normal loading code. Random weights give real (meaningless) embeddings: nothing here fakes a vector.
"""

from __future__ import annotations

import json
import string
from pathlib import Path

# A byte-level BPE vocabulary big enough to tokenise any text (every byte symbol is present).
_CLIP_SPECIAL = ["<|startoftext|>", "<|endoftext|>"]


def _bytes_to_unicode() -> list[str]:
    """The GPT-2/CLIP byte → printable-character table (each byte gets one visible symbol)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def _clip_vocab() -> dict[str, int]:
    symbols = _bytes_to_unicode()
    vocab: dict[str, int] = {}
    for s in symbols:
        vocab[s] = len(vocab)
    for s in symbols:
        vocab[s + "</w>"] = len(vocab)
    for s in _CLIP_SPECIAL:
        vocab[s] = len(vocab)
    return vocab


def build_clip(folder: str | Path, *, dims: int = 32, image_size: int = 64, patch_size: int = 16,
               hidden: int = 32, layers: int = 2, heads: int = 2, seed: int = 0, full_size: bool = False) -> Path:
    """A CLIP image+text model saved like the hub's ``clip-ViT-B-32`` (``full_size`` = ViT-B/32 defaults)."""
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizerFast

    folder = Path(folder)
    module_dir = folder / "0_CLIPModel"
    module_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    tokenizer = CLIPTokenizerFast(vocab=_clip_vocab(), merges=[])
    token_ids = {"vocab_size": len(tokenizer), "bos_token_id": tokenizer.bos_token_id,
                 "eos_token_id": tokenizer.eos_token_id, "pad_token_id": tokenizer.pad_token_id}
    if full_size:
        config = CLIPConfig(text_config=token_ids)
        image_size = config.vision_config.image_size
    else:
        config = CLIPConfig(
            text_config={**token_ids, "hidden_size": hidden, "intermediate_size": hidden * 2,
                         "num_hidden_layers": layers, "num_attention_heads": heads, "max_position_embeddings": 77},
            vision_config={"hidden_size": hidden, "intermediate_size": hidden * 2, "num_hidden_layers": layers,
                           "num_attention_heads": heads, "image_size": image_size, "patch_size": patch_size},
            projection_dim=dims,
        )
    model = CLIPModel(config).eval()
    image_processor = CLIPImageProcessor(size={"shortest_edge": image_size},
                                         crop_size={"height": image_size, "width": image_size})
    CLIPProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(module_dir)
    model.save_pretrained(module_dir)
    (folder / "modules.json").write_text(json.dumps(
        [{"idx": 0, "name": "0", "path": "0_CLIPModel", "type": "sentence_transformers.models.CLIPModel"}]))
    (folder / "config_sentence_transformers.json").write_text(json.dumps({"similarity_fn_name": "cosine"}))
    return folder


def _bert_vocab(folder: Path) -> Path:
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = string.ascii_lowercase + string.digits + "àâäçéèêëîïôöùûüÿñßæœ"
    tokens = specials + list(chars) + ["##" + c for c in chars] + list(string.punctuation)
    path = folder / "vocab.txt"
    path.write_text("\n".join(tokens) + "\n", encoding="utf-8")
    return path


def build_multilingual_text(folder: str | Path, *, dims: int = 32, hidden: int = 32, layers: int = 2,
                            heads: int = 2, seed: int = 1) -> Path:
    """A text model saved like the hub's ``clip-ViT-B-32-multilingual-v1`` (Transformer → mean Pooling → Dense)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.base.modules import Dense, Transformer
    from sentence_transformers.sentence_transformer.modules import Pooling
    from transformers import BertConfig, BertModel, BertTokenizerFast

    folder = Path(folder)
    base = folder.parent / (folder.name + "-base")
    base.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    tokenizer = BertTokenizerFast(vocab_file=str(_bert_vocab(base)))
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=hidden * 2,
                        num_hidden_layers=layers, num_attention_heads=heads, max_position_embeddings=128)
    BertModel(config).save_pretrained(base)
    tokenizer.save_pretrained(base)
    transformer = Transformer(str(base), max_seq_length=128)
    pooling = Pooling(transformer.get_embedding_dimension(), pooling_mode="mean")
    dense = Dense(transformer.get_embedding_dimension(), dims, bias=False, activation_function=torch.nn.Identity())
    SentenceTransformer(modules=[transformer, pooling, dense], device="cpu").save(str(folder))
    return folder


def main() -> None:
    """``python -m imgsearch_desktop.devtools.random_models OUT``: tiny models in OUT/torch, ONNX exports in OUT/onnx
    (what CI bundles into the packaged app it smoke-tests)."""
    import argparse

    from imgsearch_desktop.devtools.onnx_export import export_pair

    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("out", type=Path)
    ap.add_argument("--dims", type=int, default=32)
    args = ap.parse_args()
    out = args.out.absolute()
    clip = build_clip(out / "torch" / "clip", dims=args.dims)
    text = build_multilingual_text(out / "torch" / "text", dims=args.dims)
    for kind, folder in export_pair(str(clip), str(text), out / "onnx").items():
        print(f"{kind}: {folder}")


if __name__ == "__main__":
    main()
