"""dlib's ResNet face descriptor (``dlib_face_recognition_resnet_model_v1.dat``) run on ONNX Runtime: the same
network and the same weights, read out of dlib's own file, 6.5 ms a face against dlib's 76 (dlib-bin is built without
BLAS, and its descriptor holds the GIL; benchmarks/faces.py).

The network (dlib's ``anet_type``, dnn_face_recognition_ex.cpp): a 7x7/2 convolution, a 3x3/2 max pool, 14 residual
blocks of two 3x3 convolutions with an affine (batch norm folded at training's end) after each, in five levels
(``LEVELS``: 32, 64, 128, 256 and 256 filters; each level after the first opens with a block that halves the size, its
shortcut a 2x2 average pool padded with zero channels), a global average and a 256 -> 128 matrix. Input: a 150 x 150
face chip, RGB, the mean colour subtracted and divided by 256. dlib's file holds each layer's parameters as a tensor
(version 2: four sizes, then float32 little endian), input side first: the 29 convolutions (filters then biases), each
followed by its affine (gammas then betas), then the matrix; that order and those shapes are checked as read.

The packaged app carries the model already built (``ONNX_NAME`` among its face models, by ``write_onnx`` from
packaging/build.sh: the lean app has no ``onnx`` package); elsewhere it is built from dlib's file when
first needed (0.3 s).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from imgsearch_desktop.errors import UserError

DAT_NAME = "dlib_face_recognition_resnet_model_v1.dat"
ONNX_NAME = "dlib_face_recognition_resnet_model_v1.onnx"
CHIP = 150  # the face chip's side (dlib's get_face_chip: size 150, padding 0.25)
MEAN_RGB = (122.782, 117.001, 104.298)
DIMS = 128  # the descriptor's length (the final matrix: 256 -> DIMS)
# (filters, residual blocks, the first halves the size) per level, input side first.
LEVELS = ((32, 3, False), (64, 4, True), (128, 3, True), (256, 3, True), (256, 1, True))


@dataclass
class Conv:
    weight: np.ndarray  # (out, in, k, k), the affine after it folded in
    bias: np.ndarray  # (out,)
    stride: int


def _int(data: bytes, at: int) -> tuple[int, int]:
    """One of dlib's serialized integers at ``at``: a byte giving the length (0x80: negative), then the value's bytes,
    little endian. Returns it and the offset after it."""
    head = data[at]
    size = head & 0x0F
    value = int.from_bytes(data[at + 1:at + 1 + size], "little")
    return (-value if head & 0x80 else value), at + 1 + size


def _header(data: bytes, at: int) -> tuple[tuple[int, ...], int] | None:
    """A tensor's four sizes at ``at`` and the offset after them; None where the file ends first."""
    shape = []
    try:
        for _ in range(4):
            value, at = _int(data, at)
            shape.append(value)
    except IndexError:
        return None
    return tuple(shape), at


def _tensors(data: bytes, shapes: list[tuple[int, int, int, int]]) -> list[np.ndarray]:
    """The tensors of the given shapes, in that order: each found at the next version-2 header of that shape
    (between them dlib writes layer names, settings and empty tensors)."""
    out, at = [], 0
    for shape in shapes:
        size = shape[0] * shape[1] * shape[2] * shape[3]
        while True:
            at = data.find(b"\x01\x02", at)
            header = _header(data, at + 2) if at >= 0 else None
            if header is None:
                raise UserError(f"the face descriptor's model file ({DAT_NAME}) is damaged: a {size}-float tensor "
                                "was expected and not found; reinstall the face-recognition-models package")
            found, end = header
            if found == shape and end + 4 * size <= len(data):
                out.append(np.frombuffer(data, "<f4", size, end).astype(np.float32))
                at = end + 4 * size
                break
            at += 1
    return out


def _layout() -> list[tuple[int, int, int, int]]:
    """Each convolution's (in, out, kernel, stride), input side first."""
    convs, channels = [(3, 32, 7, 2)], 32
    for filters, blocks, halves in LEVELS:
        for block in range(blocks):
            stride = 2 if halves and block == 0 else 1
            convs += [(channels, filters, 3, stride), (filters, filters, 3, 1)]
            channels = filters
    return convs


def read_weights(path: str) -> tuple[list[Conv], np.ndarray]:
    """The convolutions (affines folded in) and the final 256 x 128 matrix from dlib's model file."""
    with open(path, "rb") as f:
        data = f.read()
    layout = _layout()
    shapes = [(size, 1, 1, 1) for cin, cout, k, _stride in layout for size in (cout * cin * k * k + cout, 2 * cout)]
    tensors = _tensors(data, [*shapes, (256, DIMS, 1, 1)])
    convs = []
    for (cin, cout, k, stride), params, affine in zip(layout, tensors[:-1:2], tensors[1::2], strict=True):
        gamma, beta = affine[:cout], affine[cout:]
        weight = params[:-cout].reshape(cout, cin, k, k) * gamma[:, None, None, None]
        convs.append(Conv(weight, params[-cout:] * gamma + beta, stride))
    return convs, tensors[-1].reshape(256, DIMS)


def build_onnx(path: str) -> bytes:
    """The descriptor as an ONNX model (input ``chips`` N x 3 x 150 x 150 float RGB 0..255, output ``descriptors``
    N x 128), serialized."""
    from onnx import TensorProto, checker, helper, numpy_helper

    convs, matrix = read_weights(path)
    nodes, weights = [], []

    def add(op: str, inputs: list[str], **attrs) -> str:
        out = f"t{len(nodes)}"
        nodes.append(helper.make_node(op, inputs, [out], **attrs))
        return out

    def const(value: np.ndarray) -> str:
        weights.append(numpy_helper.from_array(value, f"w{len(weights)}"))
        return weights[-1].name

    def conv(x: str, layer: Conv, relu: bool) -> str:
        k = layer.weight.shape[2]
        pad = k // 2 if layer.stride == 1 else 0  # dlib pads a stride-1 convolution only
        y = add("Conv", [x, const(layer.weight), const(layer.bias)], kernel_shape=[k, k],
                strides=[layer.stride] * 2, pads=[pad] * 4)
        return add("Relu", [y]) if relu else y

    mean = np.asarray(MEAN_RGB, np.float32).reshape(1, 3, 1, 1)
    x = add("Mul", [add("Sub", ["chips", const(mean)]), const(np.asarray(1 / 256, np.float32))])
    x = add("MaxPool", [conv(x, convs[0], True)], kernel_shape=[3, 3], strides=[2, 2])
    side, rest = 35, iter(convs[1:])  # 150 -> 72 (7x7/2) -> 35 (3x3/2)
    for first, second in zip(rest, rest, strict=True):
        y = conv(conv(x, first, True), second, False)
        if first.stride == 2:  # the shortcut: a 2x2 average pool, zero channels added; the block's output padded to it
            shortcut, pooled = add("AveragePool", [x], kernel_shape=[2, 2], strides=[2, 2]), side // 2
            grow = pooled - (side - 3) // 2 - 1  # dlib adds tensors of different sizes as if padded with zeros
            if grow:
                y = add("Pad", [y, const(np.asarray([0, 0, 0, 0, 0, 0, grow, grow], np.int64))])
            extra = first.weight.shape[0] - first.weight.shape[1]
            if extra:
                shortcut = add("Pad", [shortcut, const(np.asarray([0, 0, 0, 0, 0, extra, 0, 0], np.int64))])
            x, side = shortcut, pooled
        x = add("Relu", [add("Add", [y, x])])
    x = add("MatMul", [add("Flatten", [add("GlobalAveragePool", [x])]), const(matrix)])
    nodes[-1].output[0] = "descriptors"
    graph = helper.make_graph(
        nodes, "dlib_face_recognition_resnet_model_v1",
        [helper.make_tensor_value_info("chips", TensorProto.FLOAT, ["n", 3, CHIP, CHIP])],
        [helper.make_tensor_value_info("descriptors", TensorProto.FLOAT, ["n", DIMS])], weights)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # readable by every ONNX Runtime the app supports
    checker.check_model(model)
    return model.SerializeToString()


def write_onnx(folder: str) -> str:
    """Build the ONNX model from the installed dlib file into ``folder`` (the packaged app's copy); its path."""
    from imgsearch_desktop.core.analyses.faces import models_dir

    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, ONNX_NAME)
    with open(path + ".part", "wb") as f:
        f.write(build_onnx(os.path.join(models_dir(), DAT_NAME)))
    os.replace(path + ".part", path)
    return path


class Descriptor(Protocol):
    def describe(self, chips: np.ndarray) -> np.ndarray:
        """Face chips (N x 150 x 150 x 3 uint8 RGB, dlib's alignment) → N x 128 float32 descriptors."""
        ...


class ResnetDescriptor:
    """Face chips (N x 150 x 150 x 3 uint8 RGB) → N x 128 descriptors, on ONNX Runtime."""

    def __init__(self, folder: str, threads: int = 1) -> None:
        import onnxruntime as ort

        built, dat = os.path.join(folder, ONNX_NAME), os.path.join(folder, DAT_NAME)
        try:
            model = built if os.path.exists(built) else build_onnx(dat)
        except (OSError, ImportError) as exc:  # no dlib file, or no onnx package to build it with
            raise UserError(f"the face descriptor cannot be built from {dat}: {exc}; reinstall the app "
                            "(face-recognition-models and onnx)") from None
        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = threads, 1
        try:
            self._session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # ONNX Runtime's own errors: a damaged or truncated model
            raise UserError(f"the face descriptor's model cannot be loaded ({exc}); reinstall the app") from None

    def describe(self, chips: np.ndarray) -> np.ndarray:
        if not len(chips):
            return np.zeros((0, DIMS), np.float32)
        x = np.ascontiguousarray(chips.transpose(0, 3, 1, 2), dtype=np.float32)
        return self._session.run(["descriptors"], {"chips": x})[0]


class DlibDescriptor:
    """The same descriptor computed by dlib itself (its ``face_recognition_model_v1`` on the chips): the reference
    the ONNX model is checked against (tests/core/test_faces.py) and timed beside (benchmarks/faces.py)."""

    def __init__(self, folder: str) -> None:
        import dlib

        self._net = dlib.face_recognition_model_v1(os.path.join(folder, DAT_NAME))

    def describe(self, chips: np.ndarray) -> np.ndarray:
        return np.asarray([self._net.compute_face_descriptor(chip) for chip in chips], np.float32).reshape(-1, DIMS)
