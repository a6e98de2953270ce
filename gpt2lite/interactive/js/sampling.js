// The sampling explorer (chapter 8, gpt2lite/interactive/js/sampling.js). The data holds the chapter model's
// next-character logits after a few prompts (float32, computed in Python). This module redoes what
// gpt2lite.generate.sample_next does to them before it draws a token: divide by the temperature, cut with
// filter_logits (top-k, then top-p), softmax. The lines that mirror the Python say which line they mirror.
// Decisions (which token is cut) are made in float32, as torch makes them; the probabilities shown are computed
// in float64 from those float32 logits (they agree with torch's float32 softmax to about 1e-7).
window.gpt2lite.define("sampling", (live, data) => {
  const { el, control, status } = window.gpt2lite;
  const f32 = Math.fround;
  const V = data.labels.length;
  const T_MAX = 3;
  const shown = (c) => ({ " ": "␣", "\n": "↵", "\t": "⇥" })[c] || c;
  // The JSON holds 9 significant digits, which give back each float32 exactly once rounded to float32.
  const prompts = data.prompts.map((p) => ({ text: p.text, logits: p.logits.map(f32) }));

  addStyle();
  const row = el("div", { class: "g2l-controls" });
  live.append(row);
  const promptSelect = control(row, "select", {
    label: "Prompt", name: "prompt", value: 0,
    options: prompts.map((p, i) => [i, `“${p.text.length > 40 ? "…" + p.text.slice(-39) : p.text}”`
      .replace(/\n/g, "↵")]),
  });
  promptSelect.parentElement.style.flex = "2 1 15rem";  // room for the prompt's text
  const temperature = control(row, "range", { label: "Temperature", name: "temperature", value: 1,
                                              min: 0, max: T_MAX, step: 0.05 });
  const topK = control(row, "range", { label: "Top-k", name: "top-k", value: V, min: 1, max: V, step: 1 });
  // top_p must be in (0, 1] (gpt2lite checks it): 0 is not a setting, so the slider starts at 0.01.
  const topP = control(row, "range", { label: "Top-p", name: "top-p", value: 1, min: 0.01, max: 1, step: 0.01 });
  const setStatus = status(live);
  const summary = el("p", { class: "g2l-sampling-summary" });
  const context = el("p", { class: "g2l-sampling-context" });
  const bars = el("div", { class: "g2l-sampling-bars", role: "list", tabindex: "0",
                           "aria-label": "next-character probabilities, most likely first" });
  live.append(context, summary, bars);

  // gpt2lite.generate.sample_next + filter_logits on one row of logits (V,) -> {probs, before, kept}.
  // probs: what the sampler draws from; before: the softmax at this temperature, before any cut.
  function distribution(logits, t, k, p) {
    const kept = new Array(V).fill(true);
    if (t === 0) {
      // `if temperature == 0: return logits.argmax(dim=-1)`: greedy, no softmax. torch.argmax returns the first
      // of equal maxima, so a strict > keeps the lowest index.
      let best = 0;
      for (let i = 1; i < V; i++) if (logits[i] > logits[best]) best = i;
      const probs = kept.map((_, i) => (i === best ? 1 : 0));
      return { probs, before: softmax(logits, kept), kept: probs.map((q) => q === 1) };
    }
    // `scaled = logits / temperature`: a float32 tensor over a Python float is a float32 division by the
    // temperature rounded to float32; one division in float64 then rounded to float32 gives the same bits.
    // (sample_next's overflow branch is for temperatures below about 1e-37, which this slider cannot reach.)
    const tf = f32(t);
    const z = logits.map((x) => f32(x / tf));
    const before = softmax(z, kept);
    // filter_logits, top-k: `if top_k is not None and top_k < logits.size(-1)`
    if (k < V) {
      // `kth = torch.topk(logits, top_k).values[:, -1:]`: the k-th largest logit
      const kth = [...z].sort((a, b) => b - a)[k - 1];
      // `logits.masked_fill(logits < kth, -inf)`: ties with the k-th are kept
      for (let i = 0; i < V; i++) if (z[i] < kth) kept[i] = false;
    }
    // top-p: `if top_p is not None and top_p < 1.0`
    if (p < 1) {
      // `sorted_logits, order = torch.sort(logits, descending=True)`, over the logits top-k left (cut ones are
      // -inf, last). torch's sort is not stable: equal logits could come in another order there (the exported
      // logits have no ties; the browser test checks). Here equal logits keep their index order.
      const order = [...Array(V).keys()].filter((i) => kept[i]).sort((a, b) => z[b] - z[a] || a - b);
      // `probs = torch.softmax(sorted_logits)`: over the kept tokens only, rounded to float32
      const probs = softmax(z, kept).map(f32);
      // `mass_before = torch.cumsum(probs) - probs`: torch's CPU cumsum of float32 adds in float64 and rounds
      // each partial sum to float32; the subtraction is float32.
      let sum = 0;
      const cut = [];
      for (const i of order) {
        const massBefore = f32(f32(sum + probs[i]) - probs[i]);
        sum += probs[i];
        // `masked_fill(mass_before >= top_p, -inf)`: top_p is compared as a float32; the top token always stays
        if (massBefore >= f32(p)) cut.push(i);
      }
      for (const i of cut) kept[i] = false;
    }
    // `torch.softmax(logits)` over what is left: the -inf logits get probability 0
    return { probs: softmax(z, kept), before, kept };
  }

  // Softmax over the kept entries (float64); the others get 0.
  function softmax(z, kept) {
    let max = -Infinity;
    for (let i = 0; i < V; i++) if (kept[i] && z[i] > max) max = z[i];
    const e = z.map((x, i) => (kept[i] ? Math.exp(x - max) : 0));
    const total = e.reduce((a, b) => a + b, 0);
    return e.map((x) => x / total);
  }

  // What the ends of the sliders mean, in the package's terms.
  function notes(t, k, p) {
    const out = [];
    if (t === 0) out.push("Temperature 0 is greedy decoding, as in gpt2lite: all the probability goes to the "
                          + "most likely character, and top-k and top-p change nothing.");
    if (t === T_MAX) out.push(`Temperature ${T_MAX} is the slider's end: far flatter than the model's own `
                              + `distribution (T = 1); higher still, every character tends to 1/${V}.`);
    if (t > 0 && k === 1) out.push("Top-k = 1 keeps only the most likely character (and any tied with it): "
                                   + "greedy decoding, reached by sampling.");
    if (k === V) out.push(`Top-k = ${V} keeps all ${V} characters: no top-k cut (as top_k=None).`);
    if (t > 0 && p === 0.01) out.push("Top-p = 0.01 is the slider's start (p must be above 0): it keeps only "
                                      + "the most likely character, which top-p always keeps.");
    if (p === 1) out.push("Top-p = 1 keeps every character: no top-p cut (as top_p=None).");
    return out.join(" ");
  }

  // The bars: every character, most likely first (by the model's logits, so they keep their places as the
  // sliders move). Kept ones in the logits colour; cut ones as an outline of the probability they had.
  const rows = [];
  function drawBars(prompt) {
    bars.replaceChildren();
    rows.length = 0;
    const order = [...Array(V).keys()].sort((a, b) => prompt.logits[b] - prompt.logits[a] || a - b);
    for (const i of order) {
      const bar = el("span", { class: "g2l-bar" });
      const value = el("span", { class: "g2l-value" });
      const item = el("div", { class: "g2l-bar-row", role: "listitem", "data-token": i },
                      el("span", { class: "g2l-char" }, shown(data.labels[i])),
                      el("span", { class: "g2l-track" }, bar), value);
      rows.push({ i, item, bar, value });
      bars.append(item);
    }
  }

  function update() {
    const prompt = prompts[Number(promptSelect.value)];
    const t = Number(temperature.value), k = Number(topK.value), p = Number(topP.value);
    const { probs, before, kept } = distribution(prompt.logits, t, k, p);
    for (const { i, item, bar, value } of rows) {
      item.dataset.p = String(probs[i]);  // full precision, for the browser test
      item.dataset.kept = kept[i] ? "yes" : "no";
      item.classList.toggle("is-cut", !kept[i]);
      bar.style.width = `${100 * (kept[i] ? probs[i] : before[i])}%`;
      value.textContent = kept[i] ? probs[i].toFixed(3) : "cut";
      item.setAttribute("aria-label", `${JSON.stringify(data.labels[i])}: `
                        + (kept[i] ? `probability ${probs[i].toFixed(3)}` : "cut"));
    }
    const n = kept.filter(Boolean).length;
    const best = rows[0] && rows.reduce((a, b) => (probs[b.i] > probs[a.i] ? b : a)).i;
    summary.textContent = `Keeps ${n} of ${V} characters. Most likely next: `
                          + `“${shown(data.labels[best])}” with p = ${probs[best].toFixed(3)}.`;
    setStatus(notes(t, k, p));
  }

  function choosePrompt() {
    const prompt = prompts[Number(promptSelect.value)];
    const seen = prompt.text.slice(-data.block_size);
    context.replaceChildren("The model reads: ", el("code", {}, seen.replace(/\n/g, "↵")), " → ?");
    drawBars(prompt);
    update();
  }

  promptSelect.addEventListener("change", choosePrompt);
  for (const slider of [temperature, topK, topP]) slider.addEventListener("input", update);
  choosePrompt();

  function addStyle() {
    if (document.getElementById("g2l-sampling-style")) return;
    document.head.append(el("style", { id: "g2l-sampling-style" }, `
      .g2l-sampling-context, .g2l-sampling-summary { margin: 0.25rem 0; }
      .g2l-sampling-bars { max-height: 22rem; overflow-y: auto; border-top: 1px solid var(--g2l-neutral-edge);
                           padding-top: 0.3rem; }
      .g2l-bar-row { display: grid; grid-template-columns: 2rem 1fr 3.2rem; align-items: center; gap: 0.4rem;
                     height: 1.25rem; font-family: "DejaVu Sans Mono", monospace; font-size: 0.85rem; }
      .g2l-bar-row .g2l-char { text-align: center; }
      .g2l-bar-row .g2l-track { height: 0.9rem; background: var(--g2l-neutral-fill); position: relative; }
      .g2l-bar-row .g2l-bar { display: block; height: 100%; background: var(--g2l-logits-fill);
                              box-shadow: inset 0 0 0 1px var(--g2l-logits-edge); }
      .g2l-bar-row.is-cut { color: var(--g2l-muted); }
      .g2l-bar-row.is-cut .g2l-bar { background: repeating-linear-gradient(45deg, transparent 0 3px,
                                     var(--g2l-mask-fill) 3px 6px); box-shadow: inset 0 0 0 1px var(--g2l-mask-edge); }
      .g2l-bar-row .g2l-value { text-align: right; }`));
  }
});
