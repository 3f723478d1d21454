package accesslog

import (
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/stretchr/testify/require"
)

var jsonCorpus = []string{
	`{"start_time":"2026-11-25T10:00:00.000Z","method":"GET","path":"/v1/items","protocol":"HTTP/2","response_code":421,"response_flags":"-","response_code_details":"lua_response","connection_termination_details":null,"upstream_transport_failure_reason":null,"bytes_received":0,"bytes_sent":120,"duration":3,"upstream_service_time":null,"x_forwarded_for":"198.51.100.23","user_agent":"Mozilla/5.0 (Macintosh) Safari/605.1.15","request_id":"5b4e","authority":"api.example.com","upstream_host":null,"upstream_cluster":null,"upstream_local_address":null,"downstream_local_address":"10.0.0.11:8443","downstream_remote_address":"198.51.100.23:51234","requested_server_name":"shop.example.com","route_name":null}`,
	`{ "response_code" : "421" , "authority" : "api.example.com:443", "requested_server_name": "shop.example.com" }`,
	`{"response_code":421,"user_agent":"say \"hi\" \u00e9 \\ /","authority":"a\u002eexample.com"}`,
	`{"response_code":4.21e2,"authority":"x"}`,
	`{"response_code":-0,"authority":"x"}`,
	`{"response_code":01,"authority":"x"}`,
	`{"response_code":1.,"authority":"x"}`,
	`{"response_code":1e,"authority":"x"}`,
	`{"response_code":true,"authority":false}`,
	`{"response_code":421,"authority":{"nested":1}}`,
	`{"response_code":421,"authority":["a"]}`,
	`{"Response_Code":421,"AUTHORITY":"x"}`,
	`{"resp\u006fnse_code":421}`,
	`{"response_code":421,"authority":"x"} trailing`,
	`{"response_code":421,"authority":"x"`,
	`{"response_code":421,,"authority":"x"}`,
	`{"response_code" 421}`,
	`{}`,
	`{ }`,
	`{"level":"info","time":"2026-11-25T10:00:00Z","msg":"Envoy proxy is ready"}`,
	"{\"response_code\":421,\"authority\":\"tab\there\"}",
	`{"response_code":421,"authority":"x","authority":"y"}`,
	`{"response_code":421,"path":"/caf\u00e9?q=\ud83d\ude00"}`,
	`{"response_code":nul}`,
	`{"response_code":421}   `,
	`{"response_code":421,"authority":"a","requeſted_server_name":"b"}`,
	`{"response_code":421,"reſponse_code":200}`,
	`{"response_code":421,"K":"kelvin K","authority":"x"}`,
}

// parseBoth reads line with the fast path and with encoding/json alone.
func parseBoth(line string) (fast, slow Entry, fastOK, slowOK bool, fastErr, slowErr error) {
	fastOK, fastErr = parseJSON(line, &fast, true)
	slowOK, slowErr = parseJSON(line, &slow, false)
	return
}

func requireSame(t *testing.T, line string) {
	t.Helper()
	fast, slow, fastOK, slowOK, fastErr, slowErr := parseBoth(line)
	require.Equal(t, slowOK, fastOK, "accessLog for %q", line)
	require.Equal(t, slowErr == nil, fastErr == nil, "error for %q: fast %v, encoding/json %v", line, fastErr, slowErr)
	if slowErr != nil {
		require.Equal(t, slowErr.Error(), fastErr.Error(), "%q", line)
	}
	require.True(t, reflect.DeepEqual(slow, fast), "entry for %q:\nfast %+v\njson %+v", line, fast, slow)
}

// TestFastJSONAgreesWithEncodingJSON: the fast path gives exactly what
// encoding/json gives, on the corpus and on thousands of mutations of it.
func TestFastJSONAgreesWithEncodingJSON(t *testing.T) {
	for _, line := range jsonCorpus {
		requireSame(t, line)
	}
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []byte(`{}[]":,\ -0123456789.eE+tfnul"abcxyz` + "\t\x01\xff")
	for range 20000 {
		b := []byte(jsonCorpus[r.IntN(len(jsonCorpus))])
		for range 1 + r.IntN(3) {
			pos := r.IntN(len(b) + 1)
			switch r.IntN(3) {
			case 0: // insert
				b = append(b[:pos], append([]byte{alphabet[r.IntN(len(alphabet))]}, b[pos:]...)...)
			case 1: // delete
				if pos < len(b) {
					b = append(b[:pos], b[pos+1:]...)
				}
			default: // cut
				b = b[:pos]
			}
		}
		if len(b) == 0 || b[0] != '{' {
			continue // the reader hands only lines starting with '{' to parseJSONLine
		}
		requireSame(t, string(b))
	}
}

func FuzzFastJSON(f *testing.F) {
	for _, line := range jsonCorpus {
		f.Add(line)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if len(line) == 0 || line[0] != '{' {
			return
		}
		requireSame(t, line)
	})
}

func BenchmarkJSONLine(b *testing.B) {
	line := jsonCorpus[0]
	for _, fast := range []bool{true, false} {
		name := map[bool]string{true: "fast", false: "encoding-json"}[fast]
		b.Run(name, func(b *testing.B) {
			var e Entry
			for b.Loop() {
				if ok, err := parseJSON(line, &e, fast); !ok || err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}
