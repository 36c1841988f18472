// Optional: a "select all" box on list pages. Everything works without it.
document.querySelectorAll(".select-all").forEach((box) => {
  box.hidden = false;
  box.addEventListener("change", () => {
    box.closest("form").querySelectorAll('input[name="ids"]').forEach((item) => { item.checked = box.checked; });
  });
});
