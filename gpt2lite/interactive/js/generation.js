// The small GPT in the page (chapter 8, gpt2lite/interactive/js/generation.js). The data holds the chapter's
// trained character model as ONNX (base64, written by gpt2lite.interactive.export_onnx: ids (1, T) -> the last
// position's logits (1, V)), its characters, and torch's greedy continuation of a few prompts. ONNX Runtime Web
// (served by the book from _static/vendor/, never from a CDN) runs the model; the loop around it is
// gpt2lite.generate's, written again here, and the lines that mirror it say so.
window.gpt2lite.define("generation", async (live, data, figure) => {
  const { el, control, status, vendor, loadScript } = window.gpt2lite;
  const f32 = Math.fround;
  const V = data.chars.length;
  const T_MAX = 2;
  const LENGTH_MAX = 200;
  let running = false, stopRequested = false, seed = 0;  // seed: one more at every Generate
  const stoi = new Map(data.chars.map((c, i) => [c, i]));
  const shown = (c) => ({ " ": "space", "\n": "newline", "\t": "tab" })[c] || `“${c}”`;
  addStyle();

  // The controls: an example menu, the prompt (a text area: prompts may hold newlines), temperature, length.
  const row = el("div", { class: "g2l-controls" });
  const examples = control(row, "select", { label: "Example prompt", name: "example", value: 0,
    options: data.prompts.map((p, i) => [i, p.text.replace(/\n/g, "↵")]) });
  const promptId = window.gpt2lite.uid("prompt");
  const prompt = el("textarea", { id: promptId, name: "prompt", rows: 2, spellcheck: "false", autocomplete: "off",
                                  placeholder: "Type the start of a play…" });
  prompt.value = data.prompts[0].text;
  row.append(el("div", { class: "g2l-control g2l-text" }, el("label", { for: promptId }, "Prompt"), prompt));
  const row2 = el("div", { class: "g2l-controls" });
  const temperature = control(row2, "range", { label: "Temperature", name: "temperature", value: 0,
                                               min: 0, max: T_MAX, step: 0.05 });
  const length = control(row2, "range", { label: "Characters to write", name: "length",
                                          value: data.max_new_tokens, min: 1, max: LENGTH_MAX, step: 1 });
  const buttons = el("div", { class: "g2l-generation-buttons" });
  row2.append(buttons);
  const generate = control(buttons, "button", { label: "Generate", name: "generate" });
  const stop = control(buttons, "button", { label: "Stop", name: "stop" });
  generate.disabled = stop.disabled = true;
  const promptOut = el("span", { class: "g2l-prompt-text" });
  const written = el("span", { class: "g2l-generated" });
  const output = el("pre", { class: "g2l-generation-output", "aria-live": "off" }, promptOut, written);
  const source = el("p", { class: "g2l-generation-source" });
  live.append(row, row2, output, source);
  const setStatus = status(live);

  function showCanned(i) {
    promptOut.textContent = data.prompts[i].text;
    written.textContent = data.prompts[i].greedy;
    source.textContent = `Greedy text from the torch model (computed by the chapter), ${data.max_new_tokens} `
                         + "characters.";
  }
  examples.addEventListener("change", () => {
    prompt.value = data.prompts[Number(examples.value)].text;
    if (!running) showCanned(Number(examples.value));
  });
  showCanned(0);

  // In Jupyter or Colab there is no _static/vendor/ folder, so no ONNX Runtime Web: show the still picture
  // and torch's greedy texts, and point at the kernel cell that runs the real model.
  const ortUrl = vendor("onnxruntime-web/ort.wasm.min.js");
  if (ortUrl === null) {
    row2.remove();
    prompt.readOnly = true;
    live.prepend(figure.querySelector(".gpt2lite-still img").cloneNode(),
                 el("p", { class: "g2l-note" }, "ONNX Runtime Web comes with the book's web pages, not with a "
                   + "notebook, so here the model does not run in the page. Pick an example to see torch's greedy "
                   + "text, or use the next cell, which runs the model in Python on any prompt."));
    return;
  }

  setStatus("Loading ONNX Runtime Web… Meanwhile, the text above is torch's own greedy output.");
  await loadScript(ortUrl);
  const ort = window.ort;
  ort.env.wasm.wasmPaths = vendor("onnxruntime-web/");  // the .mjs and .wasm it loads lie beside the script
  ort.env.wasm.numThreads = 1;  // no worker threads: the book's pages are not cross-origin isolated
  const bytes = Uint8Array.from(atob(data.model), (c) => c.charCodeAt(0));
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });

  // The logits (V,) after the ids, as GPT.next_logits computes them without a cache:
  // `model(seq[:, -window:], last_only=True)[:, -1]`, the last block_size ids only (the sliding window).
  async function nextLogits(ids) {
    const window = ids.slice(-data.block_size);
    const input = new ort.Tensor("int64", BigInt64Array.from(window, BigInt), [1, window.length]);
    const result = await session.run({ ids: input });
    return result.logits.data;  // Float32Array (V,)
  }

  // sample_next, greedy: `logits.argmax(dim=-1)`. torch.argmax returns the first of equal maxima: strict >.
  function argmax(logits) {
    let best = 0;
    for (let i = 1; i < V; i++) if (logits[i] > logits[best]) best = i;
    return best;
  }

  // sample_next at temperature t > 0: `torch.softmax(logits / temperature)` (the division in float32, as torch
  // does it), then one draw. torch.multinomial draws with torch's generator; this is a seeded JavaScript one
  // (mulberry32), not torch's: the same seed gives the same text here, not the text Python draws.
  function sample(logits, t, random) {
    const tf = f32(t);
    const z = Array.from(logits, (x) => f32(x / tf));
    const max = Math.max(...z);
    const e = z.map((x) => Math.exp(x - max));
    let u = random() * e.reduce((a, b) => a + b, 0);
    for (let i = 0; i < V; i++) {
      u -= e[i];
      if (u < 0) return i;
    }
    return argmax(logits);  // only if rounding left u at the very top
  }

  function mulberry32(seed) {
    return () => {
      seed = (seed + 0x6d2b79f5) | 0;
      let r = Math.imul(seed ^ (seed >>> 15), 1 | seed);
      r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
      return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
    };
  }

  // The prompt as ids, or a message saying what is wrong with it.
  function encode(text) {
    if (text.length === 0) return { error: "Type a prompt first: the model needs at least one character to continue." };
    const chars = [...text];
    const bad = chars.findIndex((c) => !stoi.has(c));
    if (bad >= 0) {
      const c = chars[bad];
      const code = c.codePointAt(0).toString(16).toUpperCase().padStart(4, "0");
      return { error: `The model does not know the character ${shown(c)} (U+${code}, character ${bad + 1} of the `
                      + `prompt): it was trained on Tiny Shakespeare's ${V} characters (English letters, digits, `
                      + "spaces, newlines and some punctuation). Remove or replace it." };
    }
    return { ids: chars.map((c) => stoi.get(c)) };
  }

  function sliderNote() {
    const t = Number(temperature.value), n = Number(length.value);
    const out = [];
    if (t === 0) out.push("Temperature 0 is greedy decoding: the most likely character at every step (the first "
                          + "one if several tie, as torch.argmax), the same text as Python's.");
    if (t === T_MAX) out.push(`Temperature ${T_MAX} is the slider's end: this far above 1 the rare characters `
                              + "get so much weight that the words fall apart.");
    if (n === 1) out.push("Length 1: the model writes a single character.");
    if (n === LENGTH_MAX) out.push(`${LENGTH_MAX} characters is the slider's end: past the ${data.block_size}-`
                                   + "character context the model reads only the latest ones.");
    return out.join(" ");
  }
  for (const slider of [temperature, length]) {
    slider.addEventListener("input", () => { if (!running) setStatus(sliderNote()); });
  }

  stop.addEventListener("click", () => { stopRequested = true; });
  generate.addEventListener("click", async () => {
    const { ids, error } = encode(prompt.value);
    if (error) {
      figure.dataset.state = "error";
      setStatus(error, true);
      return;
    }
    const t = Number(temperature.value), n = Number(length.value);
    seed += 1;
    const random = mulberry32(seed);
    running = true;
    stopRequested = false;
    generate.disabled = true;
    stop.disabled = false;
    figure.dataset.state = "running";
    promptOut.textContent = prompt.value;
    written.textContent = "";
    source.textContent = t === 0 ? "Greedy text, written in your browser by ONNX Runtime Web."
      : `Sampled at temperature ${t} in your browser, with a seeded JavaScript generator (seed ${seed}; `
        + "not torch's, so not the text Python would draw).";
    setStatus("Writing…");
    try {
      for (let step = 0; step < n && !stopRequested; step++) {
        const logits = await nextLogits(ids);
        const next = t === 0 ? argmax(logits) : sample(logits, t, random);
        ids.push(next);  // `seq = torch.cat([seq, token])`: the pick becomes part of the next input
        written.textContent += data.chars[next];
        await new Promise((resolve) => setTimeout(resolve, 0));  // let the page draw each character
      }
      const count = written.textContent.length;
      setStatus(stopRequested ? `Stopped after ${count} characters.` : `Wrote ${count} characters. ${sliderNote()}`);
      figure.dataset.state = "done";
    } catch (failure) {
      figure.dataset.state = "error";
      setStatus(`ONNX Runtime failed: ${failure.message}`, true);
    } finally {
      running = false;
      generate.disabled = false;
      stop.disabled = true;
    }
  });
  generate.disabled = false;
  setStatus("Ready: the model runs in your browser. Edit the prompt and press Generate.");

  function addStyle() {
    if (document.getElementById("g2l-generation-style")) return;
    document.head.append(el("style", { id: "g2l-generation-style" }, `
      .gpt2lite-live textarea { resize: vertical; font-family: "DejaVu Sans Mono", monospace; }
      .g2l-generation-buttons { display: flex; gap: 0.5rem; align-items: flex-end; }
      .g2l-generation-output { white-space: pre-wrap; overflow-wrap: anywhere; min-height: 6rem; margin: 0.5rem 0 0;
                               padding: 0.5rem; background: #fff; border: 1px solid var(--g2l-neutral-edge);
                               border-radius: 4px; font-family: "DejaVu Sans Mono", monospace; font-size: 0.9rem; }
      .g2l-generation-output .g2l-prompt-text { background: var(--g2l-token-fill); }
      .g2l-generation-output .g2l-generated { background: var(--g2l-logits-fill); }
      .g2l-generation-source, .gpt2lite-live .g2l-note { margin: 0.3rem 0 0; font-size: 0.85rem;
                                                         color: var(--g2l-muted); }`));
  }
});
