package accesslog

import "strings"

// Client is the kind of client a User-Agent names.
type Client struct {
	// Family is one of: "safari", "safari-ios", "chrome-ios",
	// "firefox-ios", "edge-ios", "opera-ios", "webkit-ios" (an iOS in-app
	// browser), "webkit-other" (a WebKit view, e.g. in a macOS app),
	// "android-webkit", "chrome", "edge", "firefox", "opera", "samsung",
	// "ios-app", "cfnetwork", "curl", "wget", "go-http-client", "python",
	// "okhttp", "java", "bot", "other", or "none" (no User-Agent).
	Family string `json:"family"`
	// WebKit is set for Safari and for every browser on iOS/iPadOS, which
	// all use WebKit: they show an error on a 421 instead of retrying on a
	// new connection.
	WebKit bool `json:"webkit"`
}

// ClassifyUserAgent tells the client family of a User-Agent header.
//
// Chrome, Edge and Opera also say "AppleWebKit" and "Safari", so Safari is a
// "Version/x ... Safari/y" User-Agent with none of Chrome, Chromium, CriOS,
// Edg, Firefox, FxiOS or OPR. On iPhone, iPad and iPod every browser is
// WebKit whatever it calls itself (CriOS is Chrome, FxiOS Firefox, EdgiOS
// Edge). An iPad in desktop mode says "Macintosh" and is taken for macOS
// Safari, which is WebKit too.
func ClassifyUserAgent(ua string) Client {
	ua = strings.TrimSpace(ua)
	if ua == "" || ua == "-" {
		return Client{Family: "none"}
	}
	has := func(s string) bool { return strings.Contains(ua, s) }
	webkit := has("AppleWebKit/")
	if has("iPhone") || has("iPad") || has("iPod") {
		if !webkit {
			// A native app's own HTTP client, e.g. "App/1.0 (iPhone; iOS 17.4)".
			return Client{Family: "ios-app"}
		}
		family := "webkit-ios"
		switch {
		case has("CriOS/"):
			family = "chrome-ios"
		case has("FxiOS/"):
			family = "firefox-ios"
		case has("EdgiOS/"):
			family = "edge-ios"
		case has("OPiOS/"), has("OPT/"):
			family = "opera-ios"
		case has("Version/") && has("Safari/"):
			family = "safari-ios"
		}
		return Client{Family: family, WebKit: true}
	}
	switch {
	case has("CFNetwork/"):
		return Client{Family: "cfnetwork"}
	case has("Edg/"), has("EdgA/"), has("Edge/"):
		return Client{Family: "edge"}
	case has("OPR/"), has("Opera"):
		return Client{Family: "opera"}
	case has("SamsungBrowser/"):
		return Client{Family: "samsung"}
	case has("Firefox/"):
		return Client{Family: "firefox"}
	case has("Chrome/"), has("Chromium/"), has("HeadlessChrome/"):
		return Client{Family: "chrome"}
	case webkit && has("Android"):
		return Client{Family: "android-webkit", WebKit: true}
	case webkit && has("Version/") && has("Safari/"):
		return Client{Family: "safari", WebKit: true}
	case webkit:
		return Client{Family: "webkit-other", WebKit: true}
	case strings.HasPrefix(ua, "curl/"):
		return Client{Family: "curl"}
	case strings.HasPrefix(ua, "Wget/"):
		return Client{Family: "wget"}
	case strings.HasPrefix(ua, "Go-http-client/"):
		return Client{Family: "go-http-client"}
	case has("python-requests/"), has("python-urllib"), has("Python-urllib/"), has("aiohttp/"), has("python-httpx/"):
		return Client{Family: "python"}
	case has("okhttp/"):
		return Client{Family: "okhttp"}
	case strings.HasPrefix(ua, "Java/"), has("Apache-HttpClient/"):
		return Client{Family: "java"}
	}
	lower := strings.ToLower(ua)
	if strings.Contains(lower, "bot") || strings.Contains(lower, "spider") || strings.Contains(lower, "crawler") {
		return Client{Family: "bot"}
	}
	return Client{Family: "other"}
}
