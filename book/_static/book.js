// The sidebar buttons. sphinx-book-theme 1.3 and pydata-sphinx-theme 0.17 both put a ".primary-toggle" (and a
// ".secondary-toggle") button on each page, and both themes wire up only the first one in the page, which is
// hidden. The buttons a reader sees did nothing: on a phone there was no way to open the table of contents.
// Each visible button now clicks the wired one. (Checked in a real browser by tests/test_browser.py.)
document.addEventListener("DOMContentLoaded", () => {
  for (const side of ["primary", "secondary"]) {
    const [wired, ...others] = document.querySelectorAll(`.${side}-toggle`);
    for (const button of others) {
      button.addEventListener("click", (event) => {
        event.preventDefault();
        event.stopPropagation();
        button.blur();
        wired.click();
      });
    }
  }
});

// A folded solution's title reads "Solution to Exercise 14 (...)", and most of it is a link back to the exercise
// just above it. A click there jumped to the exercise, and sphinx-togglebutton threw a ReferenceError instead of
// opening the solution. Now a click anywhere on the title opens and closes the solution, like the arrow.
document.addEventListener("DOMContentLoaded", () => {
  for (const link of document.querySelectorAll(".solution.dropdown > .admonition-title a")) {
    link.addEventListener("click", (event) => {
      event.preventDefault();
      event.stopPropagation();
      link.closest(".admonition-title").querySelector(".toggle-button").click();
    });
  }
});
