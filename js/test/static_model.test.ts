import { describe, expect, it } from "vitest";
import { decodeRuns, encodeRuns } from "../src/codec";
import { FORMAT, READ_ONLY_MESSAGE, StaticModel, checkData, fromBase64, type StandaloneData } from "../src/static_model";

const b64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const JPEG = Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3, 0xff, 0xd9]);

function data(): StandaloneData {
  return {
    format: FORMAT,
    mime: "image/jpeg",
    state: {
      width: 4, height: 2, num_frames: 3, fps: 24, overlay: "filled", opacity: 0.5, tool: "brush",
      objects: [{ id: 1, color: "#1f77b4", visible: true, label: "swan" }, { id: 2, color: "#ff7f0e", visible: true, label: null }],
    },
    frames: [b64(JPEG), b64(JPEG), b64(JPEG)],
    masks: [{ "1": b64(encodeRuns([0, 3, 5])), "2": b64(encodeRuns([6, 2])) }, {}, { "2": b64(encodeRuns([8])) }],
  };
}

/** Messages the model emits on "msg:custom" once the microtasks have run. */
async function answers(model: StaticModel, content: unknown): Promise<[any, Uint8Array[]][]> {
  const got: [any, Uint8Array[]][] = [];
  const cb = (msg: any, buffers: Uint8Array[]) => got.push([msg, buffers]);
  model.on("msg:custom", cb);
  model.send(content);
  await new Promise((r) => setTimeout(r, 0));
  model.off("msg:custom", cb);
  return got;
}

describe("the standalone player's static model", () => {
  it("decodes base64", () => {
    expect(Array.from(fromBase64(b64(JPEG)))).toEqual(Array.from(JPEG));
    expect(fromBase64("").length).toBe(0);
  });

  it("accepts the data Python writes and names what is wrong otherwise", () => {
    expect(checkData(data())).toEqual([]);
    expect(checkData(null)[0]).toMatch(/no player data/);
    expect(checkData({ ...data(), format: "other" })[0]).toMatch(/unknown data format/);
    expect(checkData({ ...data(), frames: [] }).join()).toMatch(/one image per frame \(3\)/);
    expect(checkData({ ...data(), state: { ...data().state, width: 0 } }).join()).toMatch(/state.width/);
  });

  it("answers frame requests with the embedded JPEG bytes, and ignores frames that do not exist", async () => {
    const got = await answers(new StaticModel(data()), { type: "request_frames", frames: [1, 7, -1, 2] });
    expect(got.map(([m]) => m)).toEqual([{ type: "frame", frame: 1, mime: "image/jpeg" }, { type: "frame", frame: 2, mime: "image/jpeg" }]);
    expect(Array.from(got[0][1][0])).toEqual(Array.from(JPEG));
  });

  it("answers mask requests like the kernel: one buffer of run lengths per object", async () => {
    const got = await answers(new StaticModel(data()), { type: "request_masks", frames: [0, 1] });
    expect(got[0][0]).toEqual({ type: "masks", frame: 0, objects: [1, 2] });
    expect(Array.from(decodeRuns(got[0][1][0]))).toEqual([0, 3, 5]);
    expect(Array.from(decodeRuns(got[0][1][1]))).toEqual([6, 2]);
    expect(got[1][0]).toEqual({ type: "masks", frame: 1, objects: [] }); // a frame without masks: empty
  });

  it("answers asynchronously, as a kernel would", () => {
    const model = new StaticModel(data());
    let n = 0;
    model.on("msg:custom", () => n++);
    model.send({ type: "request_frames", frames: [0] });
    expect(n).toBe(0);
  });

  it("shows and hides objects", async () => {
    const model = new StaticModel(data());
    let changes = 0;
    model.on("change:objects", () => changes++);
    await answers(model, { type: "set_visible", obj_id: 2, visible: false });
    expect(model.get("objects").map((o: any) => o.visible)).toEqual([true, false]);
    expect(changes).toBe(1);
    const bad = await answers(model, { type: "set_visible", obj_id: 9, visible: true });
    expect(bad[0][0]).toEqual({ type: "error", message: "unknown object 9." });
  });

  it("refuses every edit with the read-only message, and changes nothing", async () => {
    const model = new StaticModel(data());
    const before = JSON.stringify(model.get("objects"));
    for (const type of ["click", "box", "undo", "add_object", "remove_object", "label", "stroke", "propagate", "cancel"]) {
      const got = await answers(model, { type, frame: 0, obj_id: 1, x: 1, y: 1, label: "x" });
      expect(got).toEqual([[{ type: "error", message: READ_ONLY_MESSAGE }, []]]);
    }
    expect(JSON.stringify(model.get("objects"))).toBe(before);
    expect((await answers(model, { type: "nonsense" }))[0][0].message).toMatch(/unknown message type/);
  });

  it("lets the view settings change (with change events) but keeps the click tool", () => {
    const model = new StaticModel(data());
    expect(model.get("tool")).toBe("click"); // whatever the notebook player had
    const events: string[] = [];
    model.on("change:overlay", () => events.push("overlay"));
    model.on("change:tool", () => events.push("tool"));
    model.set("overlay", "contour");
    model.set("overlay", "contour"); // no change, no event
    model.set("tool", "brush");
    model.set("objects", []);
    expect(events).toEqual(["overlay"]);
    expect(model.get("overlay")).toBe("contour");
    expect(model.get("tool")).toBe("click");
    expect(model.get("objects")).toHaveLength(2);
  });
});
