// Supportable's pages: small enhancements only (every page works without them, except live progress).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  // "Add a line": show the next hidden line row and focus its code.
  const add = document.getElementById("add-line");
  if (add) add.addEventListener("click", () => {
    const row = document.querySelector("tr.line-row[hidden]");
    if (!row) { add.disabled = true; add.textContent = "No more lines"; return; }
    row.hidden = false;
    row.querySelector("select, input").focus();
  });
  // Diagnosis search as you type: ICD-10-CM codes whose code or title match, into the shared datalist.
  const list = document.getElementById("dx-list");
  let timer = null, asked = "";
  document.querySelectorAll("input.dx-search").forEach((input) => input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const q = input.value.trim();
      if (q.length < 2 || q === asked) return;
      asked = q;
      try {
        const answer = await fetch("/ui/diagnoses?q=" + encodeURIComponent(q), {headers: {Accept: "application/json"}});
        if (!answer.ok) return;
        const found = await answer.json();
        list.replaceChildren(...found.matches.map((m) => {
          const option = document.createElement("option");
          option.value = m.code; option.label = m.code + " " + m.title; option.textContent = m.title;
          return option;
        }));
        list.dataset.query = q;
      } catch (e) { /* the search is a help: typing a code still works */ }
    }, 150);
  }));
  // Printing a result: its proofs print opened (their first level), then close again.
  let opened = [];
  window.addEventListener("beforeprint", () => {
    opened = [...document.querySelectorAll("details.proof:not([open])")];
    opened.forEach((d) => { d.open = true; });
  });
  window.addEventListener("afterprint", () => { opened.forEach((d) => { d.open = false; }); opened = []; });
  // A background job's progress: poll its status until it is done, then show the results.
  const job = document.getElementById("job");
  if (job && job.dataset.status !== "done" && job.dataset.status !== "failed") {
    const bar = document.getElementById("job-progress"), text = document.getElementById("job-text");
    const poll = async () => {
      try {
        const answer = await fetch(job.dataset.poll, {headers: {Accept: "application/json"}});
        const s = await answer.json();
        if (bar) { bar.max = s.total || 1; bar.value = s.done; }
        if (text) text.textContent = s.message;
        if (s.status === "done" || s.status === "failed") { window.location.reload(); return; }
      } catch (e) { /* try again */ }
      setTimeout(poll, 500);
    };
    setTimeout(poll, 300);
  }
});
