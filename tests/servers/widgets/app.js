// A small single-page app written the way core4's App Manager ("widgets",
// built on core4's UI library) talks to its server:
// - the token comes from localStorage "user" when there is one; core4flask's
//   login page leaves {"name": ...} there and never a token, so every call
//   carries "Authorization: Bearer undefined" next to the HttpOnly cookie;
// - on start: GET setting/_general, PUT store (no body), GET profile, GET _info;
//   then one GET <endpoint>/_info/card/<rsc_id> per app with Accept:
//   application/json; GET avatar, then <img src=".../avatar?token=-1">;
// - "Upload image" posts a canvas' PNG as the multipart part "file" to
//   avatar?token=-1 (no Authorization header, as core4's cropper does);
// - "View Profile" opens the profile page in a same-origin iframe.
(function () {
  "use strict";
  var API = "/core4/api/v1";
  var AXIOS_ACCEPT = "application/json, text/plain, */*";
  var stored = window.localStorage.getItem("user");
  var user = stored === null ? null : JSON.parse(stored);
  var bearer = "Bearer " + (user || {}).token;
  var avatarUrl = API + "/avatar?token=" + ((user || {}).token || -1);

  function element(id) {
    return document.getElementById(id);
  }

  function fail(error) {
    var box = element("error");
    box.textContent = String(error && error.message ? error.message : error);
    box.hidden = false;
    element("status").textContent = "Failed";
  }

  function call(method, url, accept) {
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: {"Accept": accept || AXIOS_ACCEPT, "Authorization": bearer}
    }).then(function (response) {
      if (!response.ok) {
        throw new Error(method + " " + url + " answered " + response.status);
      }
      return response.json();
    });
  }

  function showBranding(doc) {
    element("brand").textContent = "Widgets · " + (doc.contact || "no contact");
    (doc.menu || []).forEach(function (entry) {
      Object.keys(entry).forEach(function (label) {
        var item = document.createElement("li");
        var link = document.createElement("a");
        link.href = entry[label];
        link.textContent = label;
        item.appendChild(link);
        element("menu").appendChild(item);
      });
    });
  }

  function showCard(card) {
    var item = document.createElement("li");
    item.className = "card";
    item.setAttribute("data-rsc-id", card.rsc_id);
    var title = document.createElement("h2");
    title.className = "card-title";
    title.textContent = card.title;
    var open = document.createElement("a");
    open.href = card.enter_url;
    open.textContent = "Open App";
    item.appendChild(title);
    item.appendChild(open);
    element("cards").appendChild(item);
  }

  function showAvatar() {
    var image = element("avatar");
    image.onload = function () {
      image.hidden = false;
      image.setAttribute("data-loaded", "true");
    };
    image.onerror = function () {
      fail(new Error("the avatar image did not load"));
    };
    image.src = avatarUrl;
  }

  function uploadAvatar() {
    var canvas = document.createElement("canvas");
    canvas.width = 8;
    canvas.height = 8;
    var context = canvas.getContext("2d");
    context.fillStyle = "#d70f14";
    context.fillRect(0, 0, 8, 8);
    canvas.toBlob(function (blob) {
      var form = new FormData();
      form.append("file", blob, "avatar.png");
      var request = new XMLHttpRequest();
      request.open("POST", avatarUrl);
      request.setRequestHeader("Accept", "*/*");
      request.onload = function () {
        if (request.status !== 200) {
          fail(new Error("POST " + avatarUrl + " answered " + request.status));
          return;
        }
        showAvatar();
      };
      request.onerror = function () {
        fail(new Error("the avatar upload failed"));
      };
      request.send(form);
    });
  }

  function viewProfile() {
    var frame = element("content");
    frame.src = API + "/profile?dark=false&themeDark=primary=%23D70F14xyzaccent=%231D4161" +
      "&themeLight=primary=%23D70F14xyzaccent=%231D4161";
    frame.hidden = false;
  }

  element("upload").addEventListener("click", uploadAvatar);
  element("view-profile").addEventListener("click", viewProfile);

  Promise.all([
    call("GET", API + "/setting/_general"),
    call("PUT", API + "/store"),
    call("GET", API + "/profile")
  ]).then(function (answers) {
    showBranding(answers[1].data.doc);
    element("user-name").textContent = answers[2].data.name;
    return call("GET", API + "/_info?per_page=6&page=0");
  }).then(function (listing) {
    return Promise.all(listing.data.map(function (entry) {
      return call("GET", entry.endpoint[0] + "/_info/card/" + entry.rsc_id, "application/json");
    }));
  }).then(function (cards) {
    cards.forEach(showCard);
    return call("GET", API + "/avatar");
  }).then(function (avatar) {
    if (avatar.data !== "No avatar set yet.") {
      throw new Error("unexpected avatar answer");
    }
    element("status").textContent = "Ready";
    document.body.setAttribute("data-ready", "true");
  }).catch(fail);
})();
