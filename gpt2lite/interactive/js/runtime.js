// The runtime every interactive figure shares (gpt2lite/interactive/js/runtime.js, inlined by Interactive.html).
// A figure is a <figure class="gpt2lite-interactive" data-figure="KIND"> holding its data as JSON, a still
// picture and an empty live area. A module registers how to draw its KIND with gpt2lite.define(KIND, draw);
// the runtime then fills the live area of every figure of that kind and hides the still picture (print keeps it).
// Every output inlines this file, so it guards against running twice in one page.
window.gpt2lite = window.gpt2lite || (() => {
  const drawers = {};
  let counter = 0;

  // Element helper: el("label", {for: "x", class: "y"}, "text", child, ...).
  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === false || value === null || value === undefined) continue;
      if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : value);
    }
    node.append(...children.filter((c) => c !== null && c !== undefined));
    return node;
  }

  // SVG element helper, for the figures that draw: svg("rect", {x: 0, y: 0, width: 10, height: 10}).
  function svg(tag, attrs = {}, ...children) {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
    node.append(...children);
    return node;
  }

  function uid(name) {
    counter += 1;
    return `g2l-${name}-${counter}`;
  }

  // A labelled control in a row of controls. kind: "range", "text", "select" or "button"; the control is returned.
  // Ranges show their value beside the label (an <output>), so a reader sees where the slider stands.
  function control(row, kind, { label, name, value, min, max, step, options = [], placeholder }) {
    const id = uid(name);
    if (kind === "button") {
      const button = el("button", { type: "button", id, name, class: "g2l-button" }, label);
      row.append(button);
      return button;
    }
    let input;
    if (kind === "select") {
      input = el("select", { id, name });
      for (const [optionValue, text] of options) input.append(el("option", { value: optionValue }, text));
      input.value = String(value);
    } else {
      input = el("input", { id, name, type: kind, min, max, step, placeholder, autocomplete: "off",
                            spellcheck: kind === "text" ? "false" : null });
      input.value = String(value);
    }
    const wrap = el("div", { class: `g2l-control g2l-${kind}` }, el("label", { for: id }, label));
    if (kind === "range") {
      const shown = el("output", { for: id, "aria-hidden": "true" }, input.value);
      input.addEventListener("input", () => { shown.textContent = input.value; });
      wrap.querySelector("label").append(" ", shown);
    }
    wrap.append(input);
    row.append(wrap);
    return input;
  }

  // A polite live region: messages for bad input ("the model has no 'é'") and for what is loading.
  function status(parent) {
    const node = el("p", { class: "g2l-status", role: "status", "aria-live": "polite" });
    parent.append(node);
    return (text, isError = false) => {
      node.textContent = text;
      node.classList.toggle("g2l-error", isError);
    };
  }

  // The URL of a file the book serves from _static/vendor/ (npm packages copied by book/_ext/offline_assets.py),
  // or null outside the book's pages (Jupyter, Colab), where there is no such folder.
  function vendor(path) {
    const root = document.documentElement.dataset.content_root;
    if (root === undefined) return null;
    return new URL(`${root}_static/vendor/${path}`, document.baseURI).href;
  }

  // Load a classic script once (ONNX Runtime Web defines the global `ort`).
  const scripts = {};
  function loadScript(url) {
    scripts[url] = scripts[url] || new Promise((resolve, reject) => {
      const tag = el("script", { src: url });
      tag.addEventListener("load", resolve);
      tag.addEventListener("error", () => reject(new Error(`could not load ${url}`)));
      document.head.append(tag);
    });
    return scripts[url];
  }

  function mount(kind) {
    for (const figure of document.querySelectorAll(`figure.gpt2lite-interactive[data-figure="${kind}"]`)) {
      if (figure.dataset.mounted) continue;
      figure.dataset.mounted = "yes";
      const data = JSON.parse(figure.querySelector("script.gpt2lite-data").textContent);
      const live = figure.querySelector(".gpt2lite-live");
      live.hidden = false;
      figure.classList.add("is-live");
      Promise.resolve()
        .then(() => drawers[kind](live, data, figure))
        .then(() => { figure.dataset.ready = "yes"; })  // the browser tests wait for this
        .catch((error) => {
          figure.classList.remove("is-live");
          live.hidden = true;
          figure.dataset.ready = "failed";
          console.error(`gpt2lite ${kind} figure: ${error.message}`);
        });
    }
  }

  // Register how to draw a kind of figure, and draw every figure of that kind already in the page.
  function define(kind, draw) {
    if (!drawers[kind]) drawers[kind] = draw;
    mount(kind);
  }

  document.addEventListener("DOMContentLoaded", () => Object.keys(drawers).forEach(mount));
  return { el, svg, uid, control, status, vendor, loadScript, define };
})();
