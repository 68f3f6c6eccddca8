/* core4flask App Manager enhancements: instant filtering, favourites and
 * ordering, kept in the user's settings (GET/PUT JSON {"data": {"launcher":
 * {...}}} at the URL in data-settings-url). Without this script the page
 * still works as a plain GET form; if the settings cannot be loaded or saved
 * the page keeps working with defaults. No other network requests are made.
 */
(function () {
  "use strict";

  var root = document.querySelector("[data-launcher]");
  if (!root) {
    return;
  }

  var form = root.querySelector(".launcher-filter");
  var searchInput = root.querySelector("#launcher-search");
  var tagSelect = root.querySelector("#launcher-tag");
  var apiCheckbox = root.querySelector("#launcher-api");
  var serverApi = apiCheckbox ? apiCheckbox.checked : false;
  var orderSelect = root.querySelector("#launcher-order");
  var grid = root.querySelector("#launcher-apps");
  var status = root.querySelector("#launcher-status");
  var empty = root.querySelector("#launcher-empty");
  var notice = root.querySelector("#launcher-notice");
  var settingsUrl = root.getAttribute("data-settings-url") || "";
  var serverSearch = (root.getAttribute("data-search") || "").trim().toLowerCase();
  var serverTag = root.getAttribute("data-tag") || "";
  var cards = grid ? Array.prototype.slice.call(grid.querySelectorAll(".app-card")) : [];
  var state = { favourites: [], order: "favourites", search: "", tag: "" };
  var saveTimer = null;

  function showNotice(text) {
    if (!notice) {
      return;
    }
    notice.textContent = text;
    notice.hidden = !text;
  }

  function words(text) {
    return text.toLowerCase().replace(/^!/, "").split(/\s+/).filter(Boolean);
  }

  /* True when the rendered cards are a superset of what the filter asks for,
   * so filtering in the browser gives the same answer as the server. */
  function isNarrowing(search, tag) {
    var query = search.trim().toLowerCase();
    if (apiCheckbox && apiCheckbox.checked !== serverApi) {
      return false;
    }
    if (query.charAt(0) === "!" && serverSearch.charAt(0) !== "!") {
      return false;
    }
    if (serverSearch && query.indexOf(serverSearch) === -1) {
      return false;
    }
    return !serverTag || tag === serverTag;
  }

  function matches(card, terms, tag) {
    var text = card.getAttribute("data-text") || "";
    var tags = (card.getAttribute("data-tags") || "").split(" ");
    if (tag && tags.indexOf(tag) === -1) {
      return false;
    }
    return terms.every(function (term) {
      return text.indexOf(term) !== -1;
    });
  }

  function applyFilter() {
    var search = searchInput ? searchInput.value : "";
    var tag = tagSelect ? tagSelect.value : "";
    var terms = words(search);
    var shown = 0;
    cards.forEach(function (card) {
      var visible = matches(card, terms, tag);
      card.hidden = !visible;
      shown += visible ? 1 : 0;
    });
    if (status) {
      status.textContent = shown + (shown === 1 ? " application" : " applications");
      if (!isNarrowing(search, tag)) {
        status.textContent += " shown here. Press Enter to search all applications.";
      }
    }
    if (grid) {
      grid.hidden = shown === 0;
    }
    if (empty) {
      empty.hidden = shown !== 0;
      if (shown === 0 && cards.length) {
        empty.textContent = "No application matches your filter.";
      }
    }
  }

  function applyOrder() {
    if (!grid) {
      return;
    }
    var order = state.order;
    var sorted = cards.slice().sort(function (a, b) {
      var indexA = Number(a.getAttribute("data-index"));
      var indexB = Number(b.getAttribute("data-index"));
      if (order === "title") {
        var titleA = (a.getAttribute("data-title") || "").toLowerCase();
        var titleB = (b.getAttribute("data-title") || "").toLowerCase();
        return titleA.localeCompare(titleB) || indexA - indexB;
      }
      var keyA, keyB;
      if (order === "new") {
        keyA = a.getAttribute("data-new") === "true" ? 0 : 1;
        keyB = b.getAttribute("data-new") === "true" ? 0 : 1;
      } else {
        keyA = a.classList.contains("is-favourite") ? 0 : 1;
        keyB = b.classList.contains("is-favourite") ? 0 : 1;
      }
      return keyA - keyB || indexA - indexB;
    });
    sorted.forEach(function (card) {
      grid.appendChild(card);
    });
  }

  function renderFavourite(card) {
    var id = card.getAttribute("data-rsc-id");
    var on = state.favourites.indexOf(id) !== -1;
    var button = card.querySelector("[data-favourite]");
    card.classList.toggle("is-favourite", on);
    if (button) {
      button.setAttribute("aria-pressed", on ? "true" : "false");
      button.firstElementChild.textContent = on ? "\u2605" : "\u2606";
    }
  }

  function scheduleSave() {
    if (!settingsUrl || !window.fetch) {
      return;
    }
    window.clearTimeout(saveTimer);
    saveTimer = window.setTimeout(save, 600);
  }

  function save() {
    state.search = searchInput ? searchInput.value : "";
    state.tag = tagSelect ? tagSelect.value : "";
    window.fetch(settingsUrl, {
      method: "PUT",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ data: { launcher: state } })
    }).then(function (response) {
      showNotice(response.ok ? "" : "Your launcher choices could not be saved.");
    }).catch(function () {
      showNotice("Your launcher choices could not be saved.");
    });
  }

  function load() {
    if (!settingsUrl || !window.fetch) {
      return Promise.resolve(null);
    }
    return window.fetch(settingsUrl, {
      credentials: "same-origin",
      headers: { Accept: "application/json" }
    }).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (body) {
      var data = body && body.data;
      if (data && typeof data.launcher === "object" && data.launcher) {
        data = data.launcher;
      }
      return data && typeof data === "object" ? data : null;
    }).catch(function () {
      return null;  /* no settings yet or the endpoint failed: use defaults */
    });
  }

  function adopt(saved) {
    if (!saved) {
      return;
    }
    if (Array.isArray(saved.favourites)) {
      state.favourites = saved.favourites.filter(function (id) {
        return typeof id === "string";
      });
    }
    if (["favourites", "title", "new"].indexOf(saved.order) !== -1) {
      state.order = saved.order;
    }
    /* saved filters apply only when the URL does not ask for its own */
    if (!serverSearch && !serverTag && cards.length) {
      if (searchInput && typeof saved.search === "string") {
        searchInput.value = saved.search;
      }
      if (tagSelect && Array.prototype.some.call(tagSelect.options, function (option) {
        return option.value === saved.tag;
      })) {
        tagSelect.value = saved.tag;
      }
    }
  }

  function render() {
    cards.forEach(renderFavourite);
    if (orderSelect) {
      orderSelect.value = state.order;
    }
    applyOrder();
    applyFilter();
  }

  function onFavourite(event) {
    var button = event.target.closest("[data-favourite]");
    if (!button) {
      return;
    }
    var card = button.closest(".app-card");
    var id = card.getAttribute("data-rsc-id");
    var position = state.favourites.indexOf(id);
    if (position === -1) {
      state.favourites.push(id);
    } else {
      state.favourites.splice(position, 1);
    }
    renderFavourite(card);
    applyOrder();
    button.focus();
    scheduleSave();
  }

  function onShortcut(event) {
    var target = event.target;
    var typing = target && (target.tagName === "INPUT" || target.tagName === "SELECT" ||
                            target.tagName === "TEXTAREA" || target.isContentEditable);
    if (event.key === "/" && !typing && searchInput) {
      event.preventDefault();
      searchInput.focus();
      searchInput.select();
    } else if (event.key === "Escape" && target === searchInput && searchInput.value) {
      searchInput.value = "";
      applyFilter();
      scheduleSave();
    }
  }

  function onSubmit(event) {
    var search = searchInput ? searchInput.value : "";
    var tag = tagSelect ? tagSelect.value : "";
    if (isNarrowing(search, tag)) {
      event.preventDefault();  /* the cards on the page already answer it */
      applyFilter();
      scheduleSave();
    }
  }

  function onLogout(event) {
    if (!window.fetch) {
      return;
    }
    event.preventDefault();
    var logout = event.currentTarget;
    window.fetch(logout.action, {
      method: "POST",
      credentials: "same-origin",
      headers: { Accept: "application/json" }
    }).then(function () {
      window.location.reload();
    }).catch(function () {
      logout.submit();
    });
  }

  Array.prototype.forEach.call(root.querySelectorAll("[data-js-only]"), function (node) {
    node.hidden = false;
  });
  cards.forEach(function (card) {
    var button = card.querySelector("[data-favourite]");
    if (button) {
      button.hidden = false;
    }
  });

  if (grid) {
    grid.addEventListener("click", onFavourite);
  }
  if (searchInput) {
    searchInput.addEventListener("input", function () {
      applyFilter();
      scheduleSave();
    });
  }
  if (tagSelect) {
    tagSelect.addEventListener("change", function () {
      applyFilter();
      scheduleSave();
    });
  }
  if (apiCheckbox) {
    apiCheckbox.addEventListener("change", applyFilter);
  }
  if (orderSelect) {
    orderSelect.addEventListener("change", function () {
      state.order = orderSelect.value;
      applyOrder();
      scheduleSave();
    });
  }
  if (form) {
    form.addEventListener("submit", onSubmit);
  }
  Array.prototype.forEach.call(document.querySelectorAll("[data-logout]"), function (node) {
    node.addEventListener("submit", onLogout);
  });
  document.addEventListener("keydown", onShortcut);

  render();
  load().then(function (saved) {
    adopt(saved);
    render();
  });
})();
