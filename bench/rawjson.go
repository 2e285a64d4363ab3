package bench

import (
	"encoding/json"
	"fmt"
	"os"
)

// SaveJSON keeps the raw samples, so the report and chart can be redrawn without measuring again.
func (res *Results) SaveJSON(path string) error {
	b, err := json.Marshal(res)
	if err != nil {
		return fmt.Errorf("encoding results: %w", err)
	}
	return os.WriteFile(path, b, 0o644)
}

// LoadJSON reads what SaveJSON wrote.
func LoadJSON(path string) (*Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	res := &Results{}
	if err := json.Unmarshal(b, res); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", path, err)
	}
	return res, nil
}
