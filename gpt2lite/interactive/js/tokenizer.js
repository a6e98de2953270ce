// The tokenizer playground (chapter 2; gpt2lite/interactive/js/tokenizer.js, drawn by tokenizer_playground).
// GPT-2's tokenizer, ported from gpt2lite.tokenizer.BPETokenizer.encode: the split regex cuts the text into
// chunks, each chunk becomes its UTF-8 bytes, and adjacent pieces are merged, lowest rank first, until none
// is left to merge. Only the rank table (each token's bytes -> its id) comes from npm: js-tiktoken's GPT-2
// table, a data-only ES module the book serves from _static/vendor/. On load the page encodes the chapter's
// text and compares its ids with those Python computed (data.ids); a difference is an error, never shown.
(() => {
  const g = window.gpt2lite;  // the runtime (js/runtime.js)
  const { el } = g;
  const MAX_CHIPS = 500;  // tokens drawn as chips (more would slow typing); the count and the ids cover all
  const CACHE_SIZE = 1 << 16;  // chunks remembered, as in BPETokenizer (emptied when full)

  // Unicode White_Space, which is \s for tiktoken's Rust regex and for Python's `regex`. JavaScript's \s is
  // another set (it has U+FEFF and lacks U+0085), so the class is spelled out: [WS] for \s, [^WS] for \S.
  const WS = "\\t-\\r \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
  // GPT2_SPLIT_PATTERN: contractions, letters, digits, other symbols (each led by at most one space), then
  // whitespace, where [WS]+(?![^WS]) leaves a run's last space to the next word. The u flag makes \p{L} and
  // \p{N} work and makes the regex step over code points, so an emoji is one character, not two halves.
  // Letters and digits are those of the browser's Unicode version: a character newer than tiktoken's Unicode
  // (Unicode 17's CJK Extension J, say) may split differently, the caveat gpt2lite.tokenizer states for Python.
  const SPLIT = new RegExp(
    `'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^${WS}\\p{L}\\p{N}]+|[${WS}]+(?![^${WS}])|[${WS}]+`, "gu");
  const utf8 = new TextEncoder();
  const strict = new TextDecoder("utf-8", { fatal: true });

  // js-tiktoken's table: lines "<char> <offset> <token> <token> ...", each token in base64, the i-th one of a
  // line of rank offset + i. Bytes are kept as "binary strings" (one character per byte, what atob returns):
  // joining two is joining their bytes, and a Map looks them up fast. (BPETokenizer.vocab, both ways.)
  function readRanks(table) {
    const ranks = new Map();  // bytes -> rank (= token id)
    const vocab = [];  // token id -> bytes
    for (const line of table.bpe_ranks.split("\n")) {
      if (!line) continue;
      const [, offset, ...tokens] = line.split(" ");
      tokens.forEach((token, i) => {
        const bytes = atob(token);
        ranks.set(bytes, Number(offset) + i);
        vocab[Number(offset) + i] = bytes;
      });
    }
    return { ranks, vocab, special: table.special_tokens };
  }

  // A min-heap of [rank, position] pairs (Python's heapq in BPETokenizer._bpe): the lowest rank on top, and
  // of equal ranks the leftmost.
  const before = (a, b) => a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
  function heapPush(heap, item) {
    let i = heap.push(item) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i], heap[parent])) break;
      [heap[i], heap[parent]] = [heap[parent], heap[i]];
      i = parent;
    }
  }
  function heapPop(heap) {
    const top = heap[0];
    const last = heap.pop();
    if (heap.length) {
      heap[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < heap.length && before(heap[l], heap[m])) m = l;
        if (r < heap.length && before(heap[r], heap[m])) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m], heap[i]];
        i = m;
      }
    }
    return top;
  }

  // BPETokenizer._bpe: one chunk's bytes -> token ids. Start from one piece per byte; again and again merge the
  // adjacent pair whose joined bytes have the lowest rank (the merged token's id: the earliest GPT-2 learned),
  // the leftmost of equal ranks first, until no adjacent pair joins into a token. The pieces sit in a linked
  // list and the mergeable pairs in a heap, so that a long chunk costs O(n log n), not O(n^2).
  function bpe(bytes, ranks) {
    const piece = Array.from(bytes, (b) => String.fromCharCode(b));  // null: merged into its left neighbour
    const n = piece.length;
    const next = Array.from({ length: n }, (_, i) => i + 1);  // n: no next piece
    const prev = Array.from({ length: n }, (_, i) => i - 1);  // -1: no previous piece
    const rankAt = (i) => (i >= 0 && next[i] < n ? ranks.get(piece[i] + piece[next[i]]) : undefined);
    const heap = [];
    for (let i = 0; i + 1 < n; i++) {
      const rank = rankAt(i);
      if (rank !== undefined) heapPush(heap, [rank, i]);
    }
    while (heap.length) {
      const [rank, i] = heapPop(heap);
      if (piece[i] === null || rankAt(i) !== rank) continue;  // stale: a neighbour's merge changed this pair
      const j = next[i];
      piece[i] += piece[j];
      piece[j] = null;
      next[i] = next[j];
      if (next[j] < n) prev[next[j]] = i;
      for (const left of [prev[i], i]) {  // the two pairs the merged piece now belongs to
        const newRank = rankAt(left);
        if (newRank !== undefined) heapPush(heap, [newRank, left]);
      }
    }
    return piece.filter((p) => p !== null).map((p) => ranks.get(p));
  }

  // BPETokenizer.encode(text) with its default allowed_special="none": "<|endoftext|>" typed in the box is
  // ordinary text, never the special id. Lone surrogates become U+FFFD first (_replace_lone_surrogates).
  function encode(text, tokenizer) {
    const ids = [];
    for (const [chunk] of text.toWellFormed().matchAll(SPLIT)) {
      let chunkIds = tokenizer.cache.get(chunk);
      if (chunkIds === undefined) {
        chunkIds = bpe(utf8.encode(chunk), tokenizer.ranks);
        if (tokenizer.cache.size >= CACHE_SIZE) tokenizer.cache.clear();
        tokenizer.cache.set(chunk, chunkIds);
      }
      for (const id of chunkIds) ids.push(id);
    }
    return ids;
  }

  const hex = (bytes) => Array.from(bytes, (c) => c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0"));

  // A token's bytes as the chip shows them (gpt2lite.draw.tokens._piece): its text with a visible space (␣),
  // newline (↵) and tab (⇥); other invisible characters as U+XXXX; a byte that is only part of a character
  // here (a token may hold part of one) in hex. Returns [text, kind] parts, kind "text", "mark" or "hex".
  const MARKS = { " ": "\u2423", "\n": "\u21b5", "\t": "\u21e5" };
  const INVISIBLE = /[\p{Cc}\p{Cf}\p{Z}\p{Co}\p{Cn}]/u;
  function pieceParts(bytes) {
    const parts = [];
    for (let i = 0; i < bytes.length;) {
      let c = null, n = 1;
      for (n = 1; n <= 4 && i + n <= bytes.length; n++) {
        try {
          c = strict.decode(Uint8Array.from(bytes.slice(i, i + n), (b) => b.charCodeAt(0)));
          break;
        } catch { c = null; }
      }
      if (c === null) {  // bytes in a row that are no whole character share one hex part: "F0 9F"
        const last = parts[parts.length - 1];
        if (last && last[1] === "hex") last[0] += ` ${hex(bytes[i])[0]}`;
        else parts.push([hex(bytes[i])[0], "hex"]);
        n = 1;
      } else if (MARKS[c]) {
        parts.push([MARKS[c], "mark"]);
      } else if (INVISIBLE.test(c)) {
        parts.push([`U+${c.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}`, "mark"]);
      } else {
        parts.push([(i === 0 && /^\p{M}/u.test(c) ? "\u25cc" : "") + c, "text"]);  // ◌ under a lone accent
      }
      i += n;
    }
    return parts;
  }

  function countCharacters(text) {  // code points, as Python's len(text)
    let n = 0;
    for (const _ of text) n++;
    return n;
  }

  const plural = (n, word) => `${n.toLocaleString("en")} ${word}${n === 1 ? "" : "s"}`;

  function addStyle() {
    if (document.getElementById("g2l-tokenizer-style")) return;
    document.head.append(el("style", { id: "g2l-tokenizer-style" }, `
      .gpt2lite-live .g2l-tok-text textarea { min-height: 4.8rem; resize: vertical; }
      .gpt2lite-live .g2l-tok-count { margin: 0 0 0.4rem; color: var(--g2l-muted); }
      .gpt2lite-live .g2l-tokens { list-style: none; margin: 0; padding: 3px; display: flex; flex-wrap: wrap;
        gap: 5px 3px; max-height: 22rem; overflow-y: auto; contain: content; }
      .gpt2lite-live .g2l-chip { display: inline-flex; flex-direction: column; align-items: center;
        box-sizing: border-box; max-width: 100%; min-width: 1.6rem; margin: 0; padding: 1px 5px;
        border: 1px solid var(--g2l-token-edge); border-radius: 4px; background: var(--g2l-token-fill);
        color: var(--g2l-ink); font-family: "DejaVu Sans Mono", monospace; font-size: 0.9rem;
        line-height: 1.3; cursor: default; }
      .gpt2lite-live .g2l-chip:nth-child(even) { background: var(--g2l-background); }
      .gpt2lite-live .g2l-chip.is-pointed { outline: 3px solid var(--g2l-query-edge); outline-offset: 1px; }
      .gpt2lite-live .g2l-piece { white-space: pre-wrap; word-break: break-all; }
      .gpt2lite-live .g2l-mark { color: var(--g2l-muted); }
      .gpt2lite-live .g2l-hex, .gpt2lite-live .g2l-chip-id { font-size: 0.72rem; color: var(--g2l-token-edge); }
      .gpt2lite-live .g2l-hex:not(:first-child) { margin-left: 0.25em; }
      .gpt2lite-live .g2l-tok-detail { min-height: 1.3em; margin: 0.5rem 0; overflow-wrap: anywhere; }
      .gpt2lite-live .g2l-tok-ids textarea { font-family: "DejaVu Sans Mono", monospace; font-size: 0.85rem;
        min-height: 3.2rem; resize: vertical; }
    `));
  }

  // A labelled textarea (the runtime's control() makes one-line inputs).
  function textArea(row, label, { name, wrap, ...attrs }) {
    const id = g.uid(name);
    const area = el("textarea", { id, name, rows: 3, autocomplete: "off", spellcheck: "false", ...attrs });
    row.append(el("div", { class: `g2l-control g2l-text ${wrap}` }, el("label", { for: id }, label), area));
    return area;
  }

  gpt2lite.define("tokenizer", async (live, data, figure) => {
    const url = g.vendor(data.ranks);
    if (url === null) {  // Jupyter, Colab: no rank table here; keep the still picture and say where to go
      figure.classList.remove("is-live");
      live.append(el("p", { class: "g2l-status" }, "The live version runs in the book's pages; in a notebook, " +
                     "the cell below does the same through the kernel."));
      return;
    }
    addStyle();
    const controls = el("div", { class: "g2l-controls" });
    live.append(controls);
    const box = textArea(controls, "Type any text", { name: "text", wrap: "g2l-tok-text" });
    box.value = data.text;
    const count = el("p", { class: "g2l-tok-count" });
    const chips = el("ol", { class: "g2l-tokens", "aria-label": "tokens" });
    const detail = el("p", { class: "g2l-tok-detail", "aria-live": "polite" });
    const idsRow = el("div", { class: "g2l-controls" });
    live.append(count, chips, detail, idsRow);
    const idList = textArea(idsRow, "Token ids (to copy)", { name: "ids", wrap: "g2l-tok-ids", readonly: true });
    idList.addEventListener("focus", () => idList.select());
    const setStatus = g.status(live);
    const hint = "Point at a token, or tab to it and use the arrow keys, to see its id and bytes.";
    let tokens = [];  // [id, bytes] of the chips shown

    const partsOf = new Map();  // token id -> pieceParts of its bytes: tokens repeat, so each is read once
    function parts(id, bytes) {
      if (!partsOf.has(id)) partsOf.set(id, pieceParts(bytes));
      return partsOf.get(id);
    }

    function describe(k) {
      const [id, bytes] = tokens[k];
      const shown = parts(id, bytes).map(([text]) => text).join("");
      const partial = parts(id, bytes).some(([, kind]) => kind === "hex") ? ", part of a character" : "";
      return `token ${k + 1}: ${shown} has id ${id}; ${plural(bytes.length, "byte")}: ${hex(bytes).join(" ")}` +
        partial;
    }

    function point(chip) {
      for (const old of chips.querySelectorAll(".is-pointed")) old.classList.remove("is-pointed");
      if (!chip) { detail.textContent = hint; return; }
      chip.classList.add("is-pointed");
      detail.textContent = describe(Number(chip.dataset.k));
    }

    // Show the tokens of text: ids, and bytesOf(id, k), the bytes of the k-th token.
    function show(ids, bytesOf, text) {
      tokens = ids.slice(0, MAX_CHIPS).map((id, k) => [id, bytesOf(id, k)]);
      const fragment = document.createDocumentFragment();
      tokens.forEach(([id, bytes], k) => {
        const shown = parts(id, bytes).map(([s, kind]) => (kind === "text" ? s
          : el("span", { class: `g2l-${kind}` }, s)));
        const piece = el("span", { class: "g2l-piece" }, ...shown);
        fragment.append(el("li", { class: "g2l-chip", "data-id": id, "data-k": k, tabindex: k === 0 ? 0 : -1,
                                   "aria-label": describe(k) },
                           piece, el("span", { class: "g2l-chip-id", "aria-hidden": "true" }, String(id))));
      });
      chips.replaceChildren(fragment);
      const n = countCharacters(text);
      count.textContent = `${plural(ids.length, "token")} from ${plural(n, "character")} ` +
        `(${plural(utf8.encode(text).length, "byte")})`;
      count.dataset.tokens = ids.length;
      idList.value = `[${ids.join(", ")}]`;
      detail.textContent = hint;
      const notes = [];
      if (!text) notes.push("The box is empty: type something to see its tokens.");
      if (ids.length > MAX_CHIPS) {
        notes.push(`Showing the first ${MAX_CHIPS.toLocaleString("en")} of ${plural(ids.length, "token")}; ` +
                   "the count and the ids cover them all.");
      }
      if (text.includes("<|endoftext|>")) {
        notes.push("\u201c<|endoftext|>\u201d is ordinary text here, as in encode(text); only " +
                   "encode(text, allowed_special=\"all\") turns it into the special token 50256.");
      }
      setStatus(notes.join(" "));
    }

    // pointing: the mouse over a chip, or the keyboard's focus; the arrow keys move between chips
    chips.addEventListener("mouseover", (e) => { const c = e.target.closest(".g2l-chip"); if (c) point(c); });
    chips.addEventListener("mouseleave", () => {
      point(chips.contains(document.activeElement) ? document.activeElement : null);
    });
    chips.addEventListener("focusin", (e) => {
      const chip = e.target.closest(".g2l-chip");
      if (!chip) return;
      for (const c of chips.querySelectorAll('[tabindex="0"]')) c.tabIndex = -1;
      chip.tabIndex = 0;
      point(chip);
    });
    chips.addEventListener("keydown", (e) => {
      const chip = e.target.closest(".g2l-chip");
      const moves = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1, Home: -Infinity, End: Infinity };
      if (!chip || !(e.key in moves)) return;
      e.preventDefault();
      const k = Math.min(tokens.length - 1, Math.max(0, Number(chip.dataset.k) + moves[e.key]));
      chips.children[k].focus();
    });

    // At once: the tokens Python computed for the starting text, while the rank table loads.
    show(data.ids, (id, k) => String.fromCharCode(...data.bytes[k]), data.text);
    box.readOnly = true;
    setStatus("Loading GPT-2's vocabulary\u2026");
    const table = readRanks((await import(url)).default);
    const tokenizer = { ranks: table.ranks, cache: new Map() };
    const size = table.ranks.size + Object.keys(table.special).length;
    if (size !== data.vocab_size) {
      throw new Error(`the rank table has ${size} tokens, Python's tokenizer ${data.vocab_size}`);
    }
    const mine = encode(data.text, tokenizer);
    if (mine.length !== data.ids.length || mine.some((id, i) => id !== data.ids[i])) {
      throw new Error(`the page's ids for the starting text, [${mine}], are not Python's, [${data.ids}]`);
    }

    // Then as the reader types; a long text waits for a pause in the typing.
    let timer = null;
    function update() {
      timer = null;
      const text = box.value;
      show(encode(text, tokenizer), (id) => table.vocab[id], text);
      figure.dataset.updates = Number(figure.dataset.updates || 0) + 1;  // the browser tests wait for these
      delete figure.dataset.busy;
    }
    box.addEventListener("input", () => {
      figure.dataset.busy = "yes";
      clearTimeout(timer);
      timer = setTimeout(update, box.value.length > 5000 ? 200 : 0);
    });
    box.readOnly = false;
    update();
  });
})();
