// The attention explorer (gpt2lite/interactive/js/attention.js), drawn from the data that
// gpt2lite.interactive.attention_explorer exports: the tokens, and per model its name, whether it is causal and
// weights[layer][head][row][col] (row = the token that looks, col = the token it reads; each row sums to 1).
// The reader picks a layer and a head and points at a token (hover, click or tap, or focus and arrow keys).
// Each model's panel then draws lines from that token to the tokens it reads, highlights its row in the head's
// heatmap and lists its largest weights. In a causal model a later token (col > row) is drawn as masked: the
// mask set its score to -inf, so it was never a choice (a weight of 0 drawn as white would look like one).
gpt2lite.define("attention", (live, data) => {
  const { el, svg, control, status } = gpt2lite;
  const tokens = data.tokens;
  const T = tokens.length;
  check(data);
  addStyle();

  const state = { layer: 0, head: 0, token: T - 1 };  // the last token sees the whole text, even in a GPT
  const TOP = 5;  // how many of the largest weights the readout lists

  // -- controls: layer and head ----------------------------------------------------------------------------------
  const row = el("div", { class: "g2l-controls" });
  live.append(row);
  const counted = (n, what) => [...Array(n).keys()].map((i) => [i, `${what} ${i}`]);
  const layerSelect = control(row, "select", { label: "Layer", name: "layer", value: 0,
                                               options: counted(data.n_layer, "layer") });
  const headSelect = control(row, "select", { label: "Head", name: "head", value: 0,
                                              options: counted(data.n_head, "head") });
  layerSelect.addEventListener("change", () => { state.layer = Number(layerSelect.value); redraw(); });
  headSelect.addEventListener("change", () => { state.head = Number(headSelect.value); redraw(); });

  // -- the tokens, one button each: the one pressed is the token that looks --------------------------------------
  const pickId = gpt2lite.uid("tokens");
  live.append(el("p", { class: "g2l-att-label", id: pickId }, "Point at a token:"));
  const strip = el("div", { class: "g2l-att-tokens", role: "group", "aria-labelledby": pickId });
  live.append(strip);
  const buttons = tokens.map((t, i) => {
    const button = el("button", { type: "button", class: "g2l-att-token", "data-index": i, tabindex: -1,
                                  "aria-pressed": "false", "aria-label": `token ${i}, ${spoken(t)}` }, shown(t));
    button.addEventListener("click", () => select(i));
    button.addEventListener("focus", () => select(i));
    button.addEventListener("pointerenter", (e) => { if (e.pointerType === "mouse") select(i); });
    button.addEventListener("keydown", (e) => {
      const to = { ArrowRight: i + 1, ArrowDown: i + 1, ArrowLeft: i - 1, ArrowUp: i - 1, Home: 0, End: T - 1 }[e.key];
      if (to === undefined) return;
      e.preventDefault();
      buttons[Math.max(0, Math.min(T - 1, to))].focus();  // focus selects it
    });
    strip.append(button);
    return button;
  });

  // -- one panel per model: lines, heatmap, readout ---------------------------------------------------------------
  const panels = el("div", { class: "g2l-att-panels" });
  live.append(panels);
  const views = data.models.map((model) => panel(model));
  const setStatus = status(live);
  redraw();

  function panel(model) {
    const section = el("section", { class: "g2l-att-panel", "data-model": model.name,
                                    "data-causal": model.causal ? "yes" : "no" });
    section.append(el("p", { class: "g2l-att-name" }, model.name ? `${model.name} ` : "",
                      el("span", { class: "g2l-att-kind" },
                         model.causal ? "causal: the future is masked" : "bidirectional: it sees both sides")));
    const lines = linesView(model);
    const heat = heatmapView(model);
    const readout = el("div", { class: "g2l-att-readout", "aria-live": "off" });
    section.append(lines.node, el("div", { class: "g2l-att-views" }, heat.node, readout));
    panels.append(section);
    return { model, lines, heat, readout };
  }

  // Lines: the tokens in two rows, the one that looks (top) joined to every token it reads (bottom).
  function linesView(model) {
    const size = 11, gap = 1, pad = 3, boxH = 20, span = 64;  // 32 one-character tokens fit a phone at 9 px
    const widths = tokens.map((t) => Math.max(12, 6.7 * shown(t).length + 5));
    const xs = [];
    let x = pad;
    for (const w of widths) { xs.push(x); x += w + gap; }
    const W = x - gap + pad, yTop = 4, yBottom = yTop + boxH + span, H = yBottom + boxH + 4;
    const node = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "g2l-att-lines", role: "img",
                              style: `max-width: ${Math.round(W * 1.4)}px` });
    const lineLayer = svg("g", {});
    const box = (i, y, cls) => {
      const g = svg("g", { class: cls, "data-index": i });
      g.append(svg("rect", { x: xs[i], y, width: widths[i], height: boxH, rx: 3 }),
               svg("text", { x: xs[i] + widths[i] / 2, y: y + boxH / 2 + size * 0.35, "font-size": size,
                             "text-anchor": "middle" }, shown(tokens[i])));
      node.append(g);
      return g;
    };
    const top = tokens.map((_, i) => box(i, yTop, "g2l-att-box"));
    node.append(lineLayer);
    const bottom = tokens.map((_, i) => box(i, yBottom, "g2l-att-box"));
    top.forEach((g, i) => g.addEventListener("click", () => select(i)));
    const centre = (i) => xs[i] + widths[i] / 2;

    function draw(weights, i) {  // weights: the (T,) row of the token that looks
      node.setAttribute("aria-label", `${model.name || "the model"}: lines from ${quoted(tokens[i])} to the ` +
                        "tokens it attends to, thicker for larger weights");
      top.forEach((g, j) => g.classList.toggle("is-selected", j === i));
      bottom.forEach((g, j) => {
        g.classList.toggle("is-masked", masked(model, i, j));
        g.classList.toggle("is-self", j === i);
      });
      const order = [...weights.keys()].filter((j) => !masked(model, i, j) && weights[j] >= 0.0005)
        .sort((a, b) => weights[a] - weights[b]);  // the light ones first, so the strong ones lie on top
      lineLayer.replaceChildren(...order.map((j) => svg("line", {
        x1: centre(i), y1: yTop + boxH + 1, x2: centre(j), y2: yBottom - 1, class: "g2l-att-line",
        "stroke-width": (0.4 + 5 * weights[j]).toFixed(2), "stroke-opacity": (0.2 + 0.8 * weights[j]).toFixed(2),
        "data-key": j, "data-weight": fixed(weights[j]),
      })));
    }
    return { node, draw };
  }

  // Heatmap: the head's T x T weights, row = the token that looks; the row of the token pointed at is outlined.
  function heatmapView(model) {
    const cell = T <= 16 ? 16 : 12, size = 9;
    const labelW = Math.max(...tokens.map((t) => shown(t).length)) * 5.5 + 6;
    const upright = tokens.every((t) => shown(t).length <= 2);  // column labels upright, or turned a quarter
    const left = labelW, topM = upright ? size + 6 : labelW;
    const W = left + T * cell + 2, H = topM + T * cell + 2;
    const node = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "g2l-att-heat", role: "img",
                              style: `max-width: ${Math.round(W * 1.5)}px` });
    const rowLabels = [], cells = svg("g", {}), outline = svg("rect", { class: "g2l-att-row", x: left - 1,
                                                                        width: T * cell + 2, height: cell + 2 });
    tokens.forEach((t, i) => {
      const label = svg("text", { x: left - 4, y: topM + i * cell + cell / 2 + size * 0.35, "font-size": size,
                                  "text-anchor": "end", class: "g2l-att-tick" }, shown(t));
      rowLabels.push(label);
      const cx = left + i * cell + cell / 2;
      const col = upright
        ? svg("text", { x: cx, y: topM - 4, "font-size": size, "text-anchor": "middle", class: "g2l-att-tick" },
              shown(t))
        : svg("text", { x: 0, y: 0, "font-size": size, "text-anchor": "start", class: "g2l-att-tick",
                        transform: `translate(${cx + size * 0.35} ${topM - 4}) rotate(-90)` }, shown(t));
      node.append(label, col);
    });
    node.append(cells, outline);

    function fill(head) {  // every cell of the head: shaded by its weight, or masked
      node.setAttribute("aria-label", `${model.name || "the model"}: heatmap of the head's weights, one row per ` +
                        "token that looks, one column per token it reads");
      const rects = [];
      for (let i = 0; i < T; i++) {
        for (let j = 0; j < T; j++) {
          const m = masked(model, i, j);
          const rect = svg("rect", { x: left + j * cell, y: topM + i * cell, width: cell, height: cell,
                                     class: m ? "g2l-att-cell is-masked" : "g2l-att-cell", "data-row": i,
                                     "data-col": j });
          if (m) rect.setAttribute("data-masked", "yes");
          else {
            rect.setAttribute("data-weight", fixed(head[i][j]));
            rect.setAttribute("fill-opacity", head[i][j].toFixed(3));
          }
          rect.append(svg("title", {}, `${quoted(tokens[i])} reads ${quoted(tokens[j])}: ` +
                                       (m ? "masked (the future)" : fixed(head[i][j]))));
          rect.addEventListener("click", () => select(i));
          rects.push(rect);
        }
      }
      cells.replaceChildren(...rects);
    }
    function mark(i) {
      outline.setAttribute("y", topM + i * cell - 1);
      rowLabels.forEach((label, r) => label.classList.toggle("is-selected", r === i));
    }
    const legend = el("p", { class: "g2l-att-legend" },
                      el("span", { class: "g2l-att-ramp", "aria-hidden": "true" }), " weight 0 to 1",
                      model.causal ? el("span", {}, el("span", { class: "g2l-att-swatch", "aria-hidden": "true" }),
                                        " masked: the future") : null);
    return { node: el("div", { class: "g2l-att-heatwrap" }, node, legend), fill, mark };
  }

  // The readout: the largest weights of the token that looks, as numbers; what the mask hides, or what lies ahead.
  function readout(view, weights, i) {
    const { model } = view;
    const allowed = [...weights.keys()].filter((j) => !masked(model, i, j));
    const best = allowed.slice().sort((a, b) => weights[b] - weights[a] || a - b).slice(0, TOP);
    const list = el("ol", { class: "g2l-att-top" }, ...best.map((j) => el("li", {
      "data-key": j, "data-weight": fixed(weights[j]) },
    el("span", { class: "g2l-att-chip" }, shown(tokens[j])), ` position ${j}: `, el("strong", {}, fixed(weights[j])))));
    const later = T - 1 - i;
    let note;
    if (model.causal) {
      note = i === 0 ? "The first token can only look at itself: all of its weight is there."
        : later ? `${later} later token${later > 1 ? "s are" : " is"} masked: a causal model never looks ahead.`
          : "The last token sees the whole text.";
    } else {
      const ahead = allowed.filter((j) => j > i).reduce((s, j) => s + weights[j], 0);
      note = later ? `${fixed(ahead)} of its weight is on later tokens.` : "It is the last token: nothing lies ahead.";
    }
    view.readout.replaceChildren(
      el("p", { class: "g2l-att-reads" }, el("span", { class: "g2l-att-chip" }, shown(tokens[i])),
         ` (position ${i}) attends most to:`),
      list,
      el("p", { class: "g2l-att-note", "data-masked": model.causal ? later : 0 }, note));
    return best[0];
  }

  function select(i) {
    if (i === state.token && buttons[i].getAttribute("aria-pressed") === "true") return;
    state.token = i;
    update();
  }

  function redraw() {  // a new layer or head: refill the heatmaps, then draw the token's lines
    for (const view of views) view.heat.fill(view.model.weights[state.layer][state.head]);
    update();
  }

  function update() {
    const { layer, head, token: i } = state;
    Object.assign(live.dataset, { layer, head, token: i });
    buttons.forEach((b, j) => {
      b.setAttribute("aria-pressed", String(j === i));
      b.tabIndex = j === i ? 0 : -1;  // one tab stop for the row; the arrow keys move along it
    });
    const said = views.map((view) => {
      const weights = view.model.weights[layer][head][i];
      view.lines.draw(weights, i);
      view.heat.mark(i);
      const best = readout(view, weights, i);
      return `${view.model.name ? view.model.name + ": " : ""}most on ${quoted(tokens[best])} (${fixed(weights[best])})`;
    });
    setStatus(`Layer ${layer}, head ${head}, ${quoted(tokens[i])} at position ${i}. ${said.join("; ")}.`);
  }

  // -- helpers ------------------------------------------------------------------------------------------------------
  function masked(model, i, j) { return model.causal && j > i; }
  function fixed(w) { return w.toFixed(3); }  // the 3 decimals the page shows (the data keeps 6 digits)
  // a token's text as the drawings show it (gpt2lite.draw.canvas.piece_label): spaces, newlines and tabs visible
  function shown(t) { return t.replace(/ /g, "\u2423").replace(/\n/g, "\u21b5").replace(/\t/g, "\u21e5"); }
  function spoken(t) { return t === " " ? "space" : t === "\n" ? "newline" : t === "\t" ? "tab" : t; }
  function quoted(t) { return `\u2018${shown(t)}\u2019`; }

  // The data as attention_explorer writes it; anything else is a clear error, not a silently wrong figure.
  function check(d) {
    const fail = (what) => { throw new Error(`bad attention data: ${what}`); };
    if (!Array.isArray(d.tokens) || !T) fail("no tokens");
    if (!Array.isArray(d.models) || !d.models.length) fail("no models");
    for (const m of d.models) {
      if (!Array.isArray(m.weights) || m.weights.length !== d.n_layer) fail(`${m.name}: not ${d.n_layer} layers`);
      for (const layer of m.weights) {
        if (layer.length !== d.n_head) fail(`${m.name}: not ${d.n_head} heads`);
        for (const h of layer) {
          if (h.length !== T || h.some((r) => r.length !== T)) fail(`${m.name}: a head is not ${T} x ${T}`);
        }
      }
    }
  }

  function addStyle() {
    if (document.getElementById("g2l-attention-style")) return;
    document.head.append(el("style", { id: "g2l-attention-style" }, `
      .g2l-att-label { margin: 0 0 0.3rem; font-weight: 600; }
      .g2l-att-tokens { display: flex; flex-wrap: wrap; gap: 3px; margin-bottom: 0.9rem; }
      .g2l-att-token { font: inherit; font-family: "DejaVu Sans Mono", monospace; min-width: 2rem;
                       min-height: 2.2rem; padding: 0 0.3rem; color: var(--g2l-ink); cursor: pointer;
                       background: var(--g2l-token-fill); border: 1px solid var(--g2l-token-edge); border-radius: 4px; }
      .g2l-att-token[aria-pressed="true"] { background: var(--g2l-query-fill); border: 2px solid var(--g2l-query-edge);
                                            font-weight: 700; }
      .g2l-att-panels { display: flex; flex-wrap: wrap; gap: 1rem 1.5rem; }
      .g2l-att-panel { flex: 1 1 17rem; min-width: 0; }
      .g2l-att-name { margin: 0 0 0.3rem; font-weight: 700; }
      .g2l-att-kind { font-weight: 400; color: var(--g2l-muted); }
      .g2l-att-views { display: flex; flex-wrap: wrap; gap: 0.5rem 1rem; align-items: flex-start; margin-top: 0.5rem; }
      .g2l-att-heatwrap { flex: 1 1 13rem; min-width: 0; }
      .g2l-att-readout { flex: 1 1 11rem; min-width: 0; }
      .gpt2lite-live svg.g2l-att-lines, .gpt2lite-live svg.g2l-att-heat { width: 100%; height: auto; }
      .g2l-att-box rect { fill: var(--g2l-token-fill); stroke: var(--g2l-token-edge); stroke-width: 0.8; }
      .g2l-att-box text, .g2l-att-tick { font-family: "DejaVu Sans Mono", monospace; fill: var(--g2l-ink); }
      .g2l-att-box { cursor: pointer; }
      .g2l-att-box.is-selected rect { fill: var(--g2l-query-fill); stroke: var(--g2l-query-edge); stroke-width: 2; }
      .g2l-att-box.is-self rect { stroke-width: 1.6; }
      .g2l-att-box.is-masked rect { fill: var(--g2l-mask-fill); stroke: var(--g2l-mask-edge); stroke-dasharray: 2 2; }
      .g2l-att-box.is-masked text { fill: var(--g2l-mask-edge); }
      .g2l-att-line { stroke: var(--g2l-attention-edge); stroke-linecap: round; }
      .g2l-att-cell { fill: var(--g2l-attention-edge); stroke: #fff; stroke-width: 0.5; cursor: pointer; }
      .g2l-att-cell.is-masked { fill: var(--g2l-mask-fill); fill-opacity: 1; }
      .g2l-att-row { fill: none; stroke: var(--g2l-query-edge); stroke-width: 1.6; pointer-events: none; }
      .g2l-att-tick.is-selected { font-weight: 700; fill: var(--g2l-query-edge); }
      .g2l-att-legend { margin: 0.2rem 0 0; font-size: 0.85rem; color: var(--g2l-muted); }
      .g2l-att-ramp, .g2l-att-swatch { display: inline-block; width: 3rem; height: 0.7rem; vertical-align: middle;
                                       border: 1px solid var(--g2l-neutral-edge); }
      .g2l-att-ramp { background: linear-gradient(to right, #fff, var(--g2l-attention-edge)); }
      .g2l-att-swatch { width: 0.9rem; margin-left: 0.8rem; background: var(--g2l-mask-fill); }
      .g2l-att-readout p { margin: 0.1rem 0; }
      .g2l-att-top { margin: 0.2rem 0; padding-left: 1.6rem; }
      .g2l-att-top strong { font-family: "DejaVu Sans Mono", monospace; color: var(--g2l-attention-edge); }
      .g2l-att-chip { font-family: "DejaVu Sans Mono", monospace; background: var(--g2l-token-fill);
                      border: 1px solid var(--g2l-token-edge); border-radius: 3px; padding: 0 0.2rem; }
      .g2l-att-note { color: var(--g2l-muted); font-size: 0.9rem; }
    `));
  }
});
